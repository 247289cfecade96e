"""Services: decide, change state and append the custody entry, in one transaction each."""

"""Words for what the server says back: flash messages after an action, sign-in refusals
and refusals of the services by their error code. Marked with N_ so Babel extracts them;
translated when shown, in the reader's language."""

from __future__ import annotations

from typing import Final


def N_(message: str) -> str:  # noqa: N802 - the gettext convention Babel looks for
    return message


DONE: Final[dict[str, str]] = {
    "case_created": N_("The case was created."),
    "exhibit_registered": N_("The exhibit was registered."),
    "note_added": N_("The note was added."),
    "shared": N_("The exhibit was shared."),
    "share_revoked": N_("The share was revoked."),
    "sealed": N_("The exhibit was sealed."),
    "hold_set": N_("The legal hold was set."),
    "hold_released": N_("The legal hold was released."),
    "verified_ok": N_("Re-verified: the stored content still has its recorded hashes."),
    "verified_altered": N_(
        "Re-verification FAILED: the stored content no longer has its recorded hashes."
    ),
    "disposed": N_("The exhibit was disposed of."),
    "party_added": N_("The state was added as a party."),
    "party_removed": N_("Your state has withdrawn from the case."),
    "party_proposed": N_(
        "The state was proposed as a party; it joins once every party state has consented."
    ),
    "party_approved": N_("Your state consented to the proposed party."),
    "access_granted": N_("Access was granted."),
    "access_revoked": N_("Access was revoked."),
    "quorum_set": N_("The witness quorum was set."),
    "export_started": N_("The bundle is being made."),
    "signed_out": N_("You are signed out."),
    "signed_in": N_("You are signed in."),
}

SIGN_IN: Final[dict[str, str]] = {
    "signed_out": N_("Please sign in."),
    "token_missing": N_("Paste your token or choose the file that holds it."),
    "token_malformed": N_("This is not an access token."),
    "token_too_long": N_("This token is too long to keep in a browser sign-in."),
    "alg_not_allowed": N_("The token is not signed with ES256."),
    "unknown_issuer": N_("The token was issued by a state this workspace does not know."),
    "unknown_key": N_("The token was signed with a key its state has not registered here."),
    "bad_signature": N_("The token's signature does not verify."),
    "wrong_audience": N_("The token was issued for another server."),
    "token_expired": N_("Your sign-in has ended: the token has expired. Sign in with a new one."),
    "token_not_yet_valid": N_("The token is not valid yet."),
    "lifetime_too_long": N_("The token lives longer than 12 hours, which is not accepted."),
    "claim_missing": N_("The token lacks a required claim."),
    "token_revoked": N_("Your sign-in has ended: the token was revoked."),
    "unknown_role": N_("The token's role is not one of the five roles."),
    "form_expired": N_("The sign-in form had expired. Please try again."),
}

REFUSED: Final[dict[str, str]] = {
    "csrf_failed": N_(
        "The form was refused: it did not come from a page of this workspace, or it had "
        "expired. Reload the page and try again."
    ),
    "forbidden": N_("Your role may not do this here."),
    "case_forbidden": N_("Your state is not a party to this case and you hold no grant for it."),
    "case_not_found": N_("There is no such case."),
    "exhibit_not_found": N_("There is no such exhibit in this case."),
    "export_not_found": N_("There is no such export in this case."),
    "not_found": N_("There is nothing here."),
    "already_shared": N_("The exhibit is already shared with that state."),
    "share_with_owner": N_("The owner state holds the exhibit already."),
    "not_party": N_("That state is not a party to this case."),
    "share_not_found": N_("The exhibit is not shared with that state."),
    "exhibit_sealed": N_("The exhibit is sealed."),
    "exhibit_disposed": N_("The exhibit was disposed of."),
    "hold_unchanged": N_("The legal hold is already in that state."),
    "hold_active": N_("The exhibit is under legal hold."),
    "content_exists": N_("The exhibit already has content."),
    "no_content": N_("The exhibit has no content yet."),
    "content_disposed": N_("The exhibit's content was disposed of."),
    "not_shared": N_("The exhibit is neither owned by nor shared with your state."),
    "already_party": N_("That state is already a party."),
    "last_party": N_("A case keeps at least one party."),
    "unknown_jurisdiction": N_("That state is not registered in this workspace."),
    "creator_not_party": N_("Your own state must be one of the case's parties."),
    "already_granted": N_("This access is already granted."),
    "grant_not_found": N_("There is no such access grant."),
    "role_not_grantable": N_("Access grants are for judges and defence only."),
    "bad_quorum": N_("The quorum must be between 1 and the number of the case's witnesses."),
    "not_witnessed": N_(
        "No checkpoint of this case meets its witness policy yet. Retry once the "
        "witnesses have cosigned."
    ),
    "exports_busy": N_("The server is making as many bundles as it can. Retry shortly."),
    "export_no_room": N_("The server lacks the disk room for this bundle now."),
    "export_not_ready": N_("The bundle is not ready."),
    "exhibit_not_shared": N_("An exhibit of the bundle is not shared with your state."),
    "verification_in_progress": N_("This exhibit is being re-verified already."),
    "verifications_busy": N_("The server is re-verifying as much as it can. Retry shortly."),
    "storage_unavailable": N_("The evidence store is unavailable. Retry later."),
    "payload_too_large": N_("The form is too large."),
    "length_required": N_("The form did not say how large it is."),
}

GENERIC_REFUSAL: Final = N_("The server refused this.")

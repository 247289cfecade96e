"""Repositories: the SQLAlchemy select()s and inserts, one module per area.

Functions take an open Connection (the service owns the transaction) and return plain
rows or small frozen dataclasses, never ORM objects.
"""

"""Vocabulary every layer shares: request/response schemas and domain records.

ORM entities live in ``models.entities`` so that importing a record or a schema
never pulls SQLAlchemy in.
"""

"""The service's storage: SQLAlchemy tables and the queries on them.

`tables` (the service's MetaData), `engine` (SQLite and PostgreSQL engines),
`tokens`, `decisions`, `policies` (the bundle in force and its cache), `errors` (the
service's refusals), `time`, and `migrate` (Alembic, run programmatically). The
ledger keeps its own tables in `govsvc.ledger.storage`.
"""

"""The store's Alembic migrations, shipped inside the package (no ``alembic.ini``).

:meth:`connector.store.Database.migrate` configures Alembic in code (``alembic_config`` in
:mod:`connector.store.database`) with this directory as ``script_location`` and hands ``env.py``
the open connection. To write the next migration, generate a draft against a database migrated
to head and edit it by hand::

    from alembic import command
    from connector.store.database import Database, alembic_config

    db = Database("sqlite:///scratch.db"); db.migrate()
    with db.engine.begin() as connection:
        command.revision(alembic_config(connection), "what changes", autogenerate=True)

Revisions are files named ``NNNN_what.py`` in ``versions/``; each must be a frozen snapshot
(it spells its own types and constraint names and imports nothing from the connector).
"""

import pytest

from skolsam.warehouse import connection, migrate

pytestmark = pytest.mark.postgres


def test_migrations_create_the_four_schemas_and_are_idempotent(empty_database_url):
    first = migrate.migrate(empty_database_url)
    assert first, "a new database gets every migration"
    assert migrate.migrate(empty_database_url) == []
    with connection.connect(empty_database_url) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
        versions = [r[0] for r in conn.execute("SELECT version FROM audit.schema_migration ORDER BY version")]
    assert {"staging", "core", "mart", "audit"} <= schemas
    assert versions == sorted(v for v, _ in migrate.migration_files())


def test_a_changed_migration_is_refused(empty_database_url, tmp_path):
    (tmp_path / "migrations").mkdir()
    f = tmp_path / "migrations" / "001_one.sql"
    f.write_text("CREATE TABLE public.t1 (a int);")
    migrate.migrate(empty_database_url, root=tmp_path)
    f.write_text("CREATE TABLE public.t1 (a int, b int);")
    with pytest.raises(migrate.MigrationError):
        migrate.migrate(empty_database_url, root=tmp_path)

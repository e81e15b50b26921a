#pragma once
// Versioned schema migrations, tracked in schema_migrations. Append; never edit a shipped one.
// Every run holds a transaction-scoped advisory lock, so instances that start together apply
// each migration exactly once: the others wait, then find it applied.
#include "adapters/postgres/pg_connection.h"

namespace parley::pg {

/// Brings the schema behind @p connection up to the newest version (all of it in one
/// transaction). @return the newest version, or the error (start-up callers throw on it).
Result<int> migrate(Connection& connection);

/// The newest version this build knows.
int newest_schema_version();

}  // namespace parley::pg

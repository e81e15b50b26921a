#pragma once
// Versioned schema migrations, tracked in PRAGMA user_version. Append; never edit a shipped one.
#include "adapters/sqlite/sqlite_db.h"

namespace parley::sqlite {

/// Brings the schema of @p db up to the newest version; throws on failure.
void migrate(Db& db);

}  // namespace parley::sqlite

#pragma once
// A SQLite VFS for tests: it wraps the default VFS and, on command, fails what a full or broken
// disk fails: writes (SQLITE_FULL, SQLITE_IOERR_WRITE), fsyncs, reads, and the WAL write lock
// that BEGIN IMMEDIATE takes. Only the database file and its WAL are touched. A VFS is
// process-wide, so these faults are too: GoogleTest runs the tests of a binary one at a time.
#include <sqlite3.h>

#include <atomic>
#include <cstdint>

namespace parley::fault {

// Counters of failures to inject: 0 none, N the next N calls, -1 every call until cleared.
struct Faults {
  // Bytes that may still be written to the database and the WAL; -1: no limit. A write that
  // does not fit fails (writing nothing) while write_failures allows, then the limit is
  // lifted: a transient fault, as when another process frees space.
  std::atomic<int64_t> write_budget{-1};
  std::atomic<int> write_failures{-1};
  std::atomic<int> write_error{SQLITE_FULL};
  std::atomic<int> sync_failures{0};   // xSync: SQLITE_IOERR_FSYNC
  std::atomic<int> read_failures{0};   // xRead: SQLITE_IOERR_READ
  std::atomic<int> begin_failures{0};  // the WAL write lock: SQLITE_IOERR_LOCK
  std::atomic<int64_t> injected{0};    // how many calls were failed so far
  std::atomic<int64_t> written{0};     // bytes written to the database and the WAL so far

  void clear() {
    write_budget = -1;
    write_failures = -1;
    write_error = SQLITE_FULL;
    sync_failures = 0;
    read_failures = 0;
    begin_failures = 0;
  }
};

Faults& faults();

/// The name to open a database with (SqliteOptions::vfs); registers the VFS on first use.
const char* vfs_name();

}  // namespace parley::fault

#include "unit/adapters/sqlite/fault_vfs.h"

#include <mutex>
#include <stdexcept>

namespace parley::fault {
namespace {

constexpr const char* kName = "parley-fault";

sqlite3_vfs* g_real = nullptr;  // the default VFS, which does the actual work
sqlite3_vfs g_vfs;

// Our file: the real VFS's file lives right behind it, in the same allocation (szOsFile).
struct File {
  sqlite3_file base;  // first: SQLite sees a File as a sqlite3_file
  sqlite3_file* real;
  bool faulty;  // the database or its WAL
};

sqlite3_file* real(sqlite3_file* f) {
  return reinterpret_cast<File*>(f)->real;
}
bool faulty(sqlite3_file* f) {
  return reinterpret_cast<File*>(f)->faulty;
}

// Takes one failure from @p left if there is one to take.
bool take(std::atomic<int>& left) {
  int n = left.load();
  while (n != 0) {
    if (n < 0) return true;
    if (left.compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

int injected(int rc) {
  ++faults().injected;
  return rc;
}

int x_close(sqlite3_file* f) {
  sqlite3_file* r = real(f);
  return r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
}

int x_read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  if (faulty(f) && take(faults().read_failures)) return injected(SQLITE_IOERR_READ);
  return real(f)->pMethods->xRead(real(f), buf, amt, off);
}

int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  Faults& fs = faults();
  if (faulty(f)) {
    for (;;) {
      int64_t budget = fs.write_budget.load();
      if (budget < 0) break;
      if (amt <= budget) {
        if (fs.write_budget.compare_exchange_weak(budget, budget - amt)) break;
        continue;
      }
      if (take(fs.write_failures)) {
        if (fs.write_failures.load() == 0) fs.write_budget = -1;  // the last one: lifted
        return injected(fs.write_error.load());
      }
      fs.write_budget = -1;
      break;
    }
    fs.written += amt;
  }
  return real(f)->pMethods->xWrite(real(f), buf, amt, off);
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return real(f)->pMethods->xTruncate(real(f), size);
}

int x_sync(sqlite3_file* f, int flags) {
  if (faulty(f) && take(faults().sync_failures)) return injected(SQLITE_IOERR_FSYNC);
  return real(f)->pMethods->xSync(real(f), flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real(f)->pMethods->xFileSize(real(f), size);
}
int x_lock(sqlite3_file* f, int level) {
  return real(f)->pMethods->xLock(real(f), level);
}
int x_unlock(sqlite3_file* f, int level) {
  return real(f)->pMethods->xUnlock(real(f), level);
}
int x_check_reserved_lock(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) {
  return real(f)->pMethods->xSectorSize(real(f));
}
int x_device_characteristics(sqlite3_file* f) {
  return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), region, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  // Slot 0 of the WAL locks is the write lock: every write transaction takes it first.
  constexpr int kTake = SQLITE_SHM_LOCK | SQLITE_SHM_EXCLUSIVE;
  if (offset == 0 && (flags & kTake) == kTake && take(faults().begin_failures)) {
    return injected(SQLITE_IOERR_LOCK);
  }
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) {
  real(f)->pMethods->xShmBarrier(real(f));
}
int x_shm_unmap(sqlite3_file* f, int delete_flag) {
  return real(f)->pMethods->xShmUnmap(real(f), delete_flag);
}
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** out) {
  return real(f)->pMethods->xFetch(real(f), off, amt, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

const sqlite3_io_methods kMethods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  File* file = reinterpret_cast<File*>(f);
  file->real = reinterpret_cast<sqlite3_file*>(file + 1);
  file->faulty = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
  int rc = g_real->xOpen(g_real, name, file->real, flags, out_flags);
  // SQLite calls xClose only on files whose pMethods is set: mirror the real file.
  file->base.pMethods = file->real->pMethods ? &kMethods : nullptr;
  return rc;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_real->xDelete(g_real, name, sync_dir);
}
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) {
  return g_real->xDlOpen(g_real, name);
}
void x_dl_error(sqlite3_vfs*, int n, char* out) {
  g_real->xDlError(g_real, n, out);
}
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* sym))(void) {
  return g_real->xDlSym(g_real, handle, sym);
}
void x_dl_close(sqlite3_vfs*, void* handle) {
  g_real->xDlClose(g_real, handle);
}
int x_randomness(sqlite3_vfs*, int n, char* out) {
  return g_real->xRandomness(g_real, n, out);
}
int x_sleep(sqlite3_vfs*, int us) {
  return g_real->xSleep(g_real, us);
}
int x_current_time(sqlite3_vfs*, double* out) {
  return g_real->xCurrentTime(g_real, out);
}
int x_get_last_error(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError(g_real, n, out);
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_real->xCurrentTimeInt64(g_real, out);
}

}  // namespace

Faults& faults() {
  static Faults f;
  return f;
}

const char* vfs_name() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    // The wrapper forwards the shared-memory and mmap calls of version 3 io methods.
    if (!g_real || g_real->iVersion < 2) throw std::runtime_error("no usable default VFS");
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_real->szOsFile;
    g_vfs.mxPathname = g_real->mxPathname;
    g_vfs.zName = kName;
    g_vfs.xOpen = x_open;
    g_vfs.xDelete = x_delete;
    g_vfs.xAccess = x_access;
    g_vfs.xFullPathname = x_full_pathname;
    g_vfs.xDlOpen = x_dl_open;
    g_vfs.xDlError = x_dl_error;
    g_vfs.xDlSym = x_dl_sym;
    g_vfs.xDlClose = x_dl_close;
    g_vfs.xRandomness = x_randomness;
    g_vfs.xSleep = x_sleep;
    g_vfs.xCurrentTime = x_current_time;
    g_vfs.xGetLastError = x_get_last_error;
    g_vfs.xCurrentTimeInt64 = x_current_time_int64;
    if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) {
      throw std::runtime_error("cannot register the fault VFS");
    }
  });
  return kName;
}

}  // namespace parley::fault

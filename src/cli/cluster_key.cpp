#include "cli/cluster_key.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace parley {

namespace {

std::shared_ptr<const RecordMac> from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--cluster-key-file " + path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  auto mac = RecordMac::from_hex(text.str());
  if (!mac) {
    throw std::runtime_error("--cluster-key-file " + path +
                             ": not a key (64 hex digits, e.g. `openssl rand -hex 32`)");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("--cluster-key-file {} can be read by other users (chmod 600 it)", path);
  }
  return std::make_shared<const RecordMac>(*mac);
}

std::shared_ptr<const RecordMac> from_store(PgStore& store) {
  auto hex = store.shared_setting("record_key", [] { return RecordMac::random_hex_key(); });
  if (!hex)
    throw std::runtime_error("cannot read the cluster's record key: " + hex.error().message);
  auto mac = RecordMac::from_hex(*hex);
  if (!mac) throw std::runtime_error("the cluster's record key in PostgreSQL is malformed");
  return std::make_shared<const RecordMac>(*mac);
}

}  // namespace

std::shared_ptr<const RecordMac> load_cluster_key(const std::string& key_file, PgStore& store) {
  auto mac = key_file.empty() ? from_store(store) : from_file(key_file);
  // A role with another key would drop every record of the others, and they all of its: say so
  // at start instead.
  std::string mine = mac->fingerprint();
  auto theirs = store.shared_setting("record_key_id", [&] { return mine; });
  if (!theirs) {
    throw std::runtime_error("cannot read the cluster's record key id: " + theirs.error().message);
  }
  if (*theirs != mine) {
    throw std::runtime_error(
        "this role's record key (id " + mine +
        (key_file.empty() ? ", from PostgreSQL" : ", from ") + key_file +
        ") is not the cluster's (id " + *theirs +
        ", stored by its first role): every instance and persister must sign with the same key "
        "(the same --cluster-key-file for all, or none at all)");
  }
  spdlog::info("records are signed with the cluster key {} ({})", mine,
               key_file.empty() ? "kept in PostgreSQL" : key_file);
  return mac;
}

}  // namespace parley

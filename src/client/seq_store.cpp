#include "client/seq_store.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

#include "domain/names.h"

namespace parley::client {
namespace {

constexpr std::string_view kHeader = "parley-seqs 1";

bool valid_epoch(std::string_view e) {
  if (e.empty() || e.size() > 128) return false;
  for (char c : e) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace

std::string format_seq_file(const SeqFile& f) {
  std::string out(kHeader);
  out += '\n';
  if (!f.epoch.empty()) out += "epoch " + f.epoch + "\n";
  for (const auto& [room, seq] : f.rooms) out += "room " + room + " " + std::to_string(seq) + "\n";
  return out;
}

SeqFile parse_seq_file(std::string_view text) {
  SeqFile f;
  bool header = false;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!header) {
      if (line != kHeader) return {};  // not our file, or another version: start afresh
      header = true;
      continue;
    }
    if (line.starts_with("epoch ")) {
      const auto e = line.substr(6);
      if (valid_epoch(e)) f.epoch = std::string(e);
      continue;
    }
    if (!line.starts_with("room ") || f.rooms.size() >= kMaxStoredRooms) continue;
    line.remove_prefix(5);
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    const auto room = line.substr(0, sp);
    const auto num = line.substr(sp + 1);
    int64_t seq = -1;
    const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), seq);
    if (ec != std::errc{} || end != num.data() + num.size() || seq < 0) continue;
    if (!valid_any_room_name(room)) continue;
    f.rooms[std::string(room)] = seq;
  }
  return f;
}

std::filesystem::path state_dir(const char* xdg_state_home, const char* home) {
  // The spec: a relative XDG_STATE_HOME is invalid and must be ignored.
  if (xdg_state_home != nullptr && xdg_state_home[0] == '/') {
    return std::filesystem::path(xdg_state_home) / "parley";
  }
  if (home != nullptr && home[0] == '/') {
    return std::filesystem::path(home) / ".local" / "state" / "parley";
  }
  return {};
}

std::string seq_file_name(std::string_view server, std::string_view user) {
  std::string out;
  for (char c : server) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-';
    out += keep ? c : '_';
  }
  out += '-';
  out += user;  // a valid user name: [A-Za-z0-9_.-]
  out += ".seqs";
  return out;
}

SeqFile SeqStore::load() const {
  if (file_.empty()) return {};
  std::ifstream in(file_, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_seq_file(ss.str());
}

bool SeqStore::save(const SeqFile& f) const {
  if (file_.empty()) return false;
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  if (ec) return false;
  std::filesystem::permissions(file_.parent_path(), std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  auto tmp = file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << format_seq_file(f);
    out.flush();
    if (!out) return false;
  }
  std::filesystem::rename(tmp, file_, ec);
  return !ec;
}

}  // namespace parley::client

#pragma once
// Where `parley chat` keeps, per server and user, the rooms it had joined and the last seq it saw
// in each, so a restarted client rejoins them with `since` and shows exactly what it missed.
// One small text file per server+user in $XDG_STATE_HOME/parley (default ~/.local/state/parley),
// replaced atomically (write, then rename) so a crash leaves the old file or the new, never half.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace parley::client {

struct SeqFile {
  std::string epoch;                     // the log the seqs belong to (from the welcome)
  std::map<std::string, int64_t> rooms;  // joined room -> the last seq seen in it
};

/// At most this many rooms are read back; a file is ours, but bounded all the same.
constexpr size_t kMaxStoredRooms = 4096;

/// The text form: a header line, `epoch E`, then one `room NAME SEQ` line per room.
std::string format_seq_file(const SeqFile& f);
/// Reads the text form; lines it does not understand (or invalid names, negative seqs) are
/// skipped, so a damaged file costs a replay, never a crash.
SeqFile parse_seq_file(std::string_view text);

/// $XDG_STATE_HOME/parley, else $HOME/.local/state/parley (XDG Base Directory); empty if neither
/// is set to an absolute path. The arguments are the environment's values (null if unset).
std::filesystem::path state_dir(const char* xdg_state_home, const char* home);
/// One file per server and user, e.g. "127.0.0.1_8080-alice.seqs": characters outside
/// [A-Za-z0-9.-] in the server become '_'.
std::string seq_file_name(std::string_view server, std::string_view user);

/// The file itself. An empty path keeps nothing (the state directory could not be found).
class SeqStore {
 public:
  explicit SeqStore(std::filesystem::path file) : file_(std::move(file)) {}

  /// The stored state; empty if there is no file or it cannot be read.
  SeqFile load() const;
  /// Writes @p f atomically, creating the directory (0700); false if it cannot.
  bool save(const SeqFile& f) const;
  const std::filesystem::path& path() const { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace parley::client

#include "app/cluster/log_fold.h"

#include <algorithm>
#include <utility>

#include "domain/names.h"

namespace parley {

namespace {

Folded refused(Errc code, std::string why) {
  Folded f;
  f.kind = Folded::Kind::refused;
  f.error = make_error(code, std::move(why));
  return f;
}

bool expired(const LogPosition& at, const LogRecord& r) {
  return r.deadline_ms != 0 && at.append_ms > r.deadline_ms;
}

Folded expired_result() {
  Folded f;
  f.kind = Folded::Kind::expired;
  f.error = make_error(Errc::timeout, "appended after its deadline");
  return f;
}

}  // namespace

LogFold::LogFold(int64_t window) : window_(std::max<int64_t>(0, window)) {}

std::string LogFold::window_key(const std::string& room, const std::string& user,
                                const std::string& client_msg_id) {
  std::string key;
  key.reserve(room.size() + user.size() + client_msg_id.size() + 2);
  key.append(room).push_back('\0');
  key.append(user).push_back('\0');
  key.append(client_msg_id);
  return key;
}

void LogFold::forget_rooms(int32_t partition, const Partition& p) {
  for (const auto& [name, state] : p.rooms) {
    // A room of the same name may sit in another partition (only after a change of the
    // partition count); its index entry is not this partition's to remove.
    auto it = where_.find(name);
    if (it != where_.end() && it->second == partition) where_.erase(it);
  }
}

void LogFold::load(PartitionSnapshot snapshot) {
  const int32_t partition = snapshot.partition;
  if (auto old = partitions_.find(partition); old != partitions_.end()) {
    forget_rooms(partition, old->second);
    partitions_.erase(old);
  }
  Partition& p = partitions_[partition];
  p.next_offset = snapshot.next_offset;
  for (Room& room : snapshot.rooms) {
    auto head = snapshot.heads.find(room.name);
    RoomState& state = add_room(partition, p, std::move(room));
    if (head != snapshot.heads.end()) state.head = head->second;
  }
  // Only what the window can hold: entries already folded (seq <= next_offset), within the last
  // W offsets, one per seq. So a bad snapshot cannot make the window outgrow its bound.
  std::stable_sort(snapshot.window.begin(), snapshot.window.end(),
                   [](const WindowEntry& a, const WindowEntry& b) { return a.seq < b.seq; });
  int64_t last_seq = 0;
  for (WindowEntry& e : snapshot.window) {
    if (e.seq <= p.next_offset - window_ || e.seq > p.next_offset || e.seq <= last_seq) continue;
    last_seq = e.seq;
    remember(p, std::move(e));
  }
}

void LogFold::drop(int32_t partition) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  forget_rooms(partition, it->second);
  partitions_.erase(it);
}

int64_t LogFold::next_offset(int32_t partition) const {
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? 0 : it->second.next_offset;
}

const Room* LogFold::room(const std::string& name) const {
  auto where = where_.find(name);
  if (where == where_.end()) return nullptr;
  const Partition& p = partitions_.at(where->second);
  auto it = p.rooms.find(name);
  return it == p.rooms.end() ? nullptr : &it->second.room;
}

int64_t LogFold::head(const std::string& name) const {
  auto where = where_.find(name);
  if (where == where_.end()) return 0;
  const Partition& p = partitions_.at(where->second);
  auto it = p.rooms.find(name);
  return it == p.rooms.end() ? 0 : it->second.head;
}

size_t LogFold::window_size(int32_t partition) const {
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? 0 : it->second.window.size();
}

PartitionSnapshot LogFold::snapshot(int32_t partition) const {
  PartitionSnapshot s;
  s.partition = partition;
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return s;
  const Partition& p = it->second;
  s.next_offset = p.next_offset;
  s.rooms.reserve(p.rooms.size());
  for (const auto& [name, state] : p.rooms) {
    s.rooms.push_back(state.room);
    s.heads.emplace(name, state.head);
  }
  std::sort(s.rooms.begin(), s.rooms.end(),
            [](const Room& a, const Room& b) { return a.name < b.name; });
  for (const WindowEntry& e : p.window) {
    if (e.seq > p.next_offset - window_) s.window.push_back(e);
  }
  return s;
}

LogFold::RoomState& LogFold::add_room(int32_t partition, Partition& p, Room room) {
  std::string name = room.name;
  where_[name] = partition;
  RoomState& state = p.rooms[name];
  state.room = std::move(room);
  state.head = 0;
  return state;
}

void LogFold::evict(Partition& p, int64_t offset) const {
  // By offset distance, not by count or time: every folder evicts exactly the same entries.
  while (!p.window.empty() && p.window.front().seq - 1 <= offset - window_) {
    const WindowEntry& e = p.window.front();
    p.index.erase(window_key(e.room, e.user, e.client_msg_id));
    p.window.pop_front();
  }
}

void LogFold::remember(Partition& p, WindowEntry entry) {
  std::string key = window_key(entry.room, entry.user, entry.client_msg_id);
  if (p.index.count(key) > 0) return;  // the first one answers: keep it
  p.window.push_back(std::move(entry));
  p.index.emplace(std::move(key), &p.window.back());
}

std::optional<Folded> LogFold::apply(const LogPosition& at, const LogRecord& record) {
  Partition& p = partitions_[at.partition];  // never loaded: empty, from offset 0
  if (at.offset < p.next_offset) return std::nullopt;
  // A gap (compacted records, transaction markers) just moves the position on.
  p.next_offset = at.offset + 1;
  evict(p, at.offset);
  switch (record.kind) {
    case RecordKind::send:
      return fold_send(p, at, record);
    case RecordKind::create_room:
      return fold_create_room(at.partition, p, at, record);
    case RecordKind::invite:
      return fold_invite(p, at, record);
    case RecordKind::open_dm:
      return fold_open_dm(at.partition, p, at, record);
  }
  return refused(Errc::bad_request, "unknown record kind");
}

bool LogFold::skip(const LogPosition& at) {
  Partition& p = partitions_[at.partition];
  if (at.offset < p.next_offset) return false;
  p.next_offset = at.offset + 1;
  evict(p, at.offset);
  return true;
}

Folded LogFold::fold_send(Partition& p, const LogPosition& at, const LogRecord& r) {
  auto it = p.rooms.find(r.room);
  if (it == p.rooms.end()) return refused(Errc::not_found, "no such room: " + r.room);
  RoomState& state = it->second;
  if (!state.room.can_access(r.user)) return refused(Errc::forbidden, "not a member of " + r.room);
  if (expired(at, r)) return expired_result();

  Folded f;
  if (!r.client_msg_id.empty()) {
    auto dup = p.index.find(window_key(r.room, r.user, r.client_msg_id));
    if (dup != p.index.end()) {
      // The first send's result; its text is not remembered (the answer does not carry it).
      const WindowEntry& first = *dup->second;
      f.kind = Folded::Kind::duplicate;
      f.message = Message{r.room, first.seq, first.msg_id, r.user, {}, first.ts, r.client_msg_id};
      return f;
    }
  }
  const int64_t seq = at.offset + 1;
  f.kind = Folded::Kind::message;
  f.message = Message{r.room, seq, r.msg_id, r.user, r.text, at.append_ms, r.client_msg_id};
  state.head = seq;
  if (!r.client_msg_id.empty()) {
    remember(p, WindowEntry{r.room, r.user, r.client_msg_id, seq, r.msg_id, at.append_ms});
  }
  return f;
}

Folded LogFold::fold_create_room(int32_t partition, Partition& p, const LogPosition& at,
                                 const LogRecord& r) {
  if (r.room.empty() || is_dm_room(r.room)) {
    return refused(Errc::bad_request, "not a name for a created room: " + r.room);
  }
  if (p.rooms.count(r.room) > 0) return refused(Errc::conflict, "room exists: " + r.room);
  if (expired(at, r)) return expired_result();
  Folded f;
  f.kind = Folded::Kind::room_created;
  f.room = add_room(partition, p,
                    Room{r.room,
                         r.is_private ? RoomKind::private_room : RoomKind::public_room,
                         r.user,
                         at.append_ms,
                         {r.user}})
               .room;
  return f;
}

Folded LogFold::fold_invite(Partition& p, const LogPosition& at, const LogRecord& r) {
  auto it = p.rooms.find(r.room);
  if (it == p.rooms.end()) return refused(Errc::not_found, "no such room: " + r.room);
  Room& room = it->second.room;
  if (!room.can_access(r.user)) return refused(Errc::forbidden, "not a member of " + r.room);
  if (room.kind == RoomKind::direct) {
    return refused(Errc::forbidden, "direct message rooms take no invitations");
  }
  if (expired(at, r)) return expired_result();
  // Idempotent: inviting a member again is still member_added (the asker's retry succeeds).
  room.members.insert(r.target);
  Folded f;
  f.kind = Folded::Kind::member_added;
  f.room = room;
  f.member = r.target;
  return f;
}

Folded LogFold::fold_open_dm(int32_t partition, Partition& p, const LogPosition& at,
                             const LogRecord& r) {
  if (r.user == r.target || r.room != dm_room_name(r.user, r.target)) {
    return refused(Errc::bad_request, "not the dm room of " + r.user + " and " + r.target);
  }
  if (expired(at, r)) return expired_result();
  Folded f;
  if (auto it = p.rooms.find(r.room); it != p.rooms.end()) {
    f.kind = Folded::Kind::room_exists;
    f.room = it->second.room;
    return f;
  }
  f.kind = Folded::Kind::room_created;
  f.room = add_room(partition, p,
                    Room{r.room, RoomKind::direct, r.user, at.append_ms, {r.user, r.target}})
               .room;
  return f;
}

}  // namespace parley

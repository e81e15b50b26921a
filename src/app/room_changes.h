#pragma once
// Where the room catalog's change feed lands: the directory learns the change, and a new public
// room is announced to every connection. One place for both wirings, so a room created on
// another instance of a cluster is known and announced exactly like one created here.
#include "app/ports/room_store.h"

namespace parley {

struct Services;

/// Applies @p change to @p s's directory and announces it. Returns false if it was known.
bool apply_room_change(Services& s, const RoomChange& change);

}  // namespace parley

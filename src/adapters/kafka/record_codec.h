#pragma once
// LogRecord <-> the JSON bytes of a Kafka value. Short keys keep the log compact; empty
// strings, false and zeros are left out. Decoding never throws: a value that is not a record
// is an Error, which callers report and skip (a poison record must not stop a partition).
#include <string>
#include <string_view>

#include "app/cluster/log_record.h"
#include "domain/result.h"

namespace parley {

/// {"k":"s|c|i|d","r":room,"u":user,"t":text,"c":client_msg_id,"m":msg_id,"g":target,
///  "p":true,"d":deadline_ms,"o":origin,"q":request}
std::string encode_record(const LogRecord& record);
Result<LogRecord> decode_record(std::string_view bytes);

}  // namespace parley

// parley: one binary, several roles. main only parses the command line and hands over.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "cli/bench/bench_command.h"
#include "cli/chat.h"
#include "cli/kafka_mock.h"
#include "cli/persist.h"
#include "cli/serve.h"
#include "runtime/log_format.h"

int main(int argc, char** argv) {
  // Logs go to stderr: stdout carries the machine-readable `ready` line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("parley"));

  CLI::App app{"parley: a horizontally scalable real-time chat server"};
  app.require_subcommand(1);
  parley::ServeOptions serve;
  auto* serve_cmd = parley::add_serve_command(app, serve);
  parley::PersistOptions persist;
  auto* persist_cmd = parley::add_persist_command(app, persist);
  parley::KafkaMockOptions kafka_mock;
  auto* kafka_mock_cmd = parley::add_kafka_mock_command(app, kafka_mock);
  parley::ChatOptions chat;
  auto* chat_cmd = parley::add_chat_command(app, chat);
  parley::bench::BenchOptions bench;
  auto* bench_cmd = parley::bench::add_bench_command(app, bench);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text, or json: one JSON object per line (ts, level, msg, trace_id, span_id)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  // The logging flags may also follow the role (`parley serve ... --log-format json`).
  serve_cmd->fallthrough();
  persist_cmd->fallthrough();

  CLI11_PARSE(app, argc, argv);
  parley::LogFormat format = parley::LogFormat::text;
  parley::parse_log_format(log_format, format);
  parley::configure_logging(format, spdlog::level::from_str(log_level));
  try {
    if (serve_cmd->parsed()) return parley::run_serve(serve);
    if (persist_cmd->parsed()) return parley::run_persist(persist);
    if (kafka_mock_cmd->parsed()) return parley::run_kafka_mock(kafka_mock);
    if (chat_cmd->parsed()) return parley::run_chat(chat);
    if (bench_cmd->parsed()) return parley::bench::run_bench(bench);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}

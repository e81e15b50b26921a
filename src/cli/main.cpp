// parley: one binary, several roles. main only parses the command line and hands over.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "cli/bench/bench_command.h"
#include "cli/kafka_mock.h"
#include "cli/persist.h"
#include "cli/serve.h"

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
  parley::bench::BenchOptions bench;
  auto* bench_cmd = parley::bench::add_bench_command(app, bench);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  try {
    if (serve_cmd->parsed()) return parley::run_serve(serve);
    if (persist_cmd->parsed()) return parley::run_persist(persist);
    if (kafka_mock_cmd->parsed()) return parley::run_kafka_mock(kafka_mock);
    if (bench_cmd->parsed()) return parley::bench::run_bench(bench);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}

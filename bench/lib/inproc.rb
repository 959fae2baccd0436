# frozen_string_literal: true

# wow-fetch's in-process targets, timed around the `download_all` call itself (Ruby's own
# start-up would otherwise dwarf them):
#
# * cold with a block that receives every event vs cold without a block (fresh cache each run,
#   interleaved), for the block's overhead;
# * warm: every gem already in the cache, verified against its SHA-256, vs `sha256sum` of the
#   same files.
#
# usage: ruby -I lib inproc.rb ITEMS_FILE SOURCE WORK_DIR RESULT.json RUNS
#        (ITEMS_FILE: lines "full_name sha256")

require "fileutils"
require "json"
require "wow/fetch"

items_file, source, work, result_path, runs = ARGV
runs = Integer(runs)
items = File.readlines(items_file, chomp: true).map do |line|
  full_name, sha = line.split
  version_at = full_name.split("-").index { |part| part.match?(/\A\d/) }
  parts = full_name.split("-")
  { name: parts[0...version_at].join("-"), version: parts[version_at],
    platform: parts[(version_at + 1)..].then { |p| p.empty? ? "ruby" : p.join("-") }, sha256: sha }
end

def clock = Process.clock_gettime(Process::CLOCK_MONOTONIC)

def timed
  t = clock
  yield
  clock - t
end

cold = { "no_block" => [], "block" => [] }
events = 0
runs.times do |i|
  %w[no_block block].each do |mode|
    cache = File.join(work, "cold-#{mode}-#{i}")
    FileUtils.rm_rf(cache)
    fetcher = Wow::Fetcher.new(source: source, cache_dir: cache, progress: false)
    cold[mode] << timed do
      if mode == "block"
        fetcher.download_all(items) { |_event| events += 1 }
      else
        fetcher.download_all(items)
      end
    end
    FileUtils.rm_rf(cache) unless i == runs - 1 && mode == "no_block"
  end
end

warm_cache = File.join(work, "cold-no_block-#{runs - 1}")
warm = Array.new(runs) do
  fetcher = Wow::Fetcher.new(source: source, cache_dir: warm_cache, progress: false)
  timed { fetcher.download_all(items) }
end
files = Dir[File.join(warm_cache, "**", "*.gem")]
sha256sum = Array.new(runs) { timed { system("sha256sum", *files, out: File::NULL) } }
FileUtils.rm_rf(work)

median = ->(a) { a.sort[a.size / 2] }
File.write(result_path, JSON.generate(
  "cold_no_block_s" => cold["no_block"], "cold_block_s" => cold["block"],
  "events_per_run" => events / runs,
  "block_overhead" => median.(cold["block"]) / median.(cold["no_block"]) - 1,
  "warm_s" => warm, "sha256sum_s" => sha256sum, "cached_files" => files.size
))

# frozen_string_literal: true

# The start-up case (issue 18, decision 5: start-up is part of the product). Each command is a
# whole process, timed from spawn to exit like every other row, `--startup-runs` times (default
# 20) round-robin, and reported as its median and as "ours" = its median − the median of
# `ruby -e 1` (what any Ruby program pays before its first line):
#
#   ruby -e 1                                       Ruby and RubyGems alone
#   ruby -I lib -e 'require "wow/fetch"'            + loading wow-fetch and its extension
#   … ; Wow::Fetcher.new                            + the first Fetcher (TLS roots, options)
#   ruby -I lib exe/wow-fetch --version             the CLI's start
#   ruby -I lib exe/wow-fetch --lockfile LOCK       warm: every gem of the Rails set's lockfile
#                                                   already in the cache (target ≤ 100 ms)
#   … --lockfile LOCK --dest DIR                    the same, placing the 84 files in an empty DIR
#
# The cache for the warm rows is filled once, untimed, by the CLI itself from the mirror; the
# WAN is up at the case's 50 ms, so a warm run that touched the network would show it (and its
# connections are counted like any run's).
module WowBench
  class Startup
    IDS = %w[ruby-e1 require fetcher-new cli-version cli-warm cli-warm-dest].freeze

    Command = Struct.new(:id, :label, :argv, :dest, keyword_init: true)

    def initialize(bench, set, wow_ok)
      @bench = bench
      @set = set
      @wow_ok = wow_ok
    end

    def commands(lockfile)
      lib = File.join(ROOT, "lib")
      cli = ["ruby", "-I", lib, File.join(ROOT, "exe/wow-fetch")]
      [
        Command.new(id: "ruby-e1", label: "ruby -e 1", argv: %w[ruby -e 1]),
        Command.new(id: "require", label: %(ruby -I lib -e 'require "wow/fetch"'),
                    argv: ["ruby", "-I", lib, "-e", 'require "wow/fetch"']),
        Command.new(id: "fetcher-new", label: %(… ; Wow::Fetcher.new (the first Fetcher)),
                    argv: ["ruby", "-I", lib, "-e", 'require "wow/fetch"; Wow::Fetcher.new']),
        Command.new(id: "cli-version", label: "wow-fetch --version", argv: [*cli, "--version"]),
        Command.new(id: "cli-warm", label: "wow-fetch --lockfile LOCK, every gem cached (warm)",
                    argv: [*cli, "--lockfile", lockfile]),
        Command.new(id: "cli-warm-dest", label: "wow-fetch --lockfile LOCK --dest EMPTY_DIR, warm",
                    argv: [*cli, "--lockfile", lockfile, "--dest"], dest: true),
      ].select { |c| Bench.wanted?(@bench.opts[:peers], c.id) }
    end

    def measure(kase)
      home = @bench.fresh_dir("startup")
      run = Run.new(set: @set, home: home, out: home, app: File.join(home, "app"), ca: @bench.ca,
                    source: @set.source, root: ROOT)
      lockfile = File.join(run.app_dir, "Gemfile.lock")
      cmds = commands(lockfile)
      if cmds.empty?
        Bench.log "case #{kase.id}: no command chosen by --peers; left out"
        return nil
      end
      Bench.log "case #{kase.id}: #{cmds.size} commands × #{@bench.opts[:startup_runs]} runs, " \
                "RTT #{kase.rtt_ms} ms (warm rows: the #{@set.id} set's lockfile, #{@set.items.size} gems)"
      load_before, check = @bench.case_start(kase, @set)
      skipped = cmds.to_h { |c| [c.id, c.id == "ruby-e1" || @wow_ok ? nil : "not built"] }
      fill = fill_cache(run, lockfile) if @wow_ok && cmds.any? { |c| c.id.start_with?("cli-warm") }
      cmds.each { |c| skipped[c.id] ||= fill if c.id.start_with?("cli-warm") }

      entries = @bench.round_robin(kase, cmds, @bench.opts[:startup_runs], skipped: skipped) do |cmd, round|
        argv = cmd.argv
        argv += [@bench.fresh_dir("startup-dest")] if cmd.dest
        r = @bench.measured("#{kase.id}-#{cmd.id}-#{round + 1}", argv, run.env, home)
        r["round"] = round + 1
        r["ok"] = r["error"].nil?
        r
      end
      relay = @bench.wan_stop
      base = entries.find { |e| e["id"] == "ruby-e1" }
      base_median = base && Report.median(base["runs"].select { |r| r["ok"] }.map { |r| r["wall"] })
      @bench.case_facts(kase, @set, load_before, check, relay).merge(
        "ruby_e1_s" => base_median,
        "peers" => entries.map do |e|
          summary = Report.summary(e["runs"], nil, nil)
          e.merge(summary).merge("ours_s" => base_median && summary["median_s"] && summary["median_s"] - base_median)
        end,
      )
    end

    # Fills the cache for the warm rows with one CLI run (untimed); nil, or why the warm rows
    # cannot run.
    def fill_cache(run, lockfile)
      r = @bench.measured("startup-fill", ["ruby", "-I", File.join(ROOT, "lib"), File.join(ROOT, "exe/wow-fetch"),
                                           "--lockfile", lockfile], run.env, run.home)
      return "filling the cache failed: #{r["error"]}" if r["error"]

      cached = Dir[File.join(run.env["WOW_CACHE_DIR"], "**", "*.gem")].size
      Bench.log format("  cache filled by the CLI: %d files in %.2f s", cached, r["wall"])
      cached >= @set.items.size ? nil : "the cache holds #{cached} of #{@set.items.size} gems after filling"
    end
  end
end

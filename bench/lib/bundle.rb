# frozen_string_literal: true

# The `bundle install` cases (issue 18): the Rails set (bench/sets/rails.Gemfile) installed by
# Bundler as a whole process, cold (fresh HOME, BUNDLE_PATH, GEM_HOME, Bundler and wow-fetch
# caches, a fresh copy of the app), in three variants per Bundler ("cell"):
#
#   plain   `bundle install`
#   plugin  the same with `plugin "wow-fetch", path: CHECKOUT` in the Gemfile (the plugin is
#           registered as part of the run, as on a fresh checkout)
#   floor   plain `bundle install` with every locked .gem already where this Bundler looks
#           before downloading (its install path's cache/, or its global cache when it uses
#           one): the same command, index fetches, resolution and installs, minus the gem
#           downloads. The target is plugin ÷ floor ≤ 1.15.
#
# Where a Bundler keeps its cache is not guessed: a plain install on the fast path (untimed,
# once per cell) shows which directories under HOME and BUNDLE_PATH end up holding every .gem,
# and the floor's runs get the files copied there (untimed) before they start. A floor run that
# still took more than half the set's bytes from the mirror is not counted.
#
# Cells: Bundler 2.3.15 (Debian 12's) and 2.6.9 on this machine's Ruby 3.1; Bundler 4.0 on
# Ruby 3.3 in the Debian 13 root filesystem of bin/rootfs (4.0 needs Ruby >= 3.2), entered
# with chroot inside the client network namespace, with the checkout and $WOW_BENCH_WORK
# bind-mounted at their own paths. A cell that cannot run is reported with the reason.
#
# Each cell locks the app itself (`bundle _V_ lock`), so BUNDLED WITH is the cell's own version
# (no version switching) and Bundler 2.6+ writes the CHECKSUMS the plugin verifies.
#
# The set's fixture gems are pure Ruby (`extensions: []`, no executables), so no install needs
# a compiler or the internet; a real Rails app also compiles (or picks platform gems for)
# nokogiri, bcrypt, puma, … which adds the same work to all three variants.

require "fileutils"
require "shellwords"

module WowBench
  class BundleBench
    # `windows`: the Gemfile's platform lists spelled as Rails 7.2+ generates them
    # (`%i[ windows jruby ]`): Bundler 4.0 rejects `:mingw, :mswin, :x64_mingw` ("[REMOVED]
    # Platform :mingw, :mswin, :x64_mingw has been removed. Please use platform :windows
    # instead."), and Bundler 2.3 does not know `windows`. On Linux both spellings lock and
    # install the same gems.
    Cell = Struct.new(:id, :version, :rootfs, :ruby, :windows, keyword_init: true)
    CELLS = [
      Cell.new(id: "2.3", version: "2.3.15", rootfs: nil, ruby: "Ruby 3.1, this machine (Debian 12)", windows: false),
      Cell.new(id: "2.6", version: "2.6.9", rootfs: nil, ruby: "Ruby 3.1, this machine (Debian 12)", windows: false),
      Cell.new(id: "4.0", version: "4.0.0.dev", rootfs: "trixie", ruby: "Ruby 3.3, Debian 13 root filesystem", windows: true),
    ].freeze
    VARIANTS = %w[plain plugin floor].freeze
    VARIANT_LABELS = { "plain" => "bundle install", "plugin" => "bundle install, wow-fetch plugin",
                       "floor" => "bundle install, every .gem already cached (floor)" }.freeze

    Tool = Struct.new(:id, :label, :cell, :variant, keyword_init: true)

    # Mounts and chroot for a root-filesystem cell, run by `unshare --mount` so they vanish
    # with the process. /etc/hosts is the client namespace's (mirror.wow.test).
    CHROOT = <<~'SH'
      root=$1 repo=$2 work=$3; shift 3
      mount -t proc proc "$root/proc"
      mount --rbind /dev "$root/dev"
      mkdir -p "$root$repo" "$root$work"
      mount --bind "$repo" "$root$repo"
      mount --bind "$work" "$root$work"
      mount --bind /etc/hosts "$root/etc/hosts"
      exec chroot "$root" /usr/bin/env -i "$@"
    SH

    def initialize(bench, set, wanted)
      @bench = bench
      @set = set
      @tools = CELLS.product(VARIANTS).map do |cell, variant|
        Tool.new(id: "bundle-#{cell.id}-#{variant}", label: "Bundler #{cell.version}: #{VARIANT_LABELS.fetch(variant)}",
                 cell: cell, variant: variant)
      end.select { |t| Bench.wanted?(wanted, t.id) }
      @cells = @tools.map(&:cell).uniq
      @problems = {}
      @facts = {}
      @layout = {}
    end

    def log(message) = Bench.log(message)

    # Once per harness run, on the fast path (WAN at 1 ms, no rate limit): each cell's Bundler
    # and wow-fetch, its lockfiles, and where it caches .gem files.
    def prepare!
      @cells.each do |cell|
        log "bundle cell #{cell.id}: preparing (Bundler #{cell.version}, #{cell.ruby})"
        @problems[cell.id] = prepare_cell(cell)
        log "bundle cell #{cell.id}: cannot run: #{@problems[cell.id]}" if @problems[cell.id]
      rescue StandardError => e
        @problems[cell.id] = "#{e.class}: #{e.message}"
        log "bundle cell #{cell.id}: cannot run: #{@problems[cell.id]}"
      end
    end

    # nil when the cell is ready, else why not.
    def prepare_cell(cell)
      if cell.rootfs
        out, ok = capture(["timeout", "3600", File.join(ROOT, "bin/rootfs"), "path", cell.rootfs])
        return "bin/rootfs path #{cell.rootfs} failed: #{out.lines.last(3).join.strip}" unless ok

        @rootfs_dir = out.lines.last.strip
      end
      facts = (@facts[cell.id] = {})
      version, ok = in_cell_capture(cell, ["bundle", "_#{cell.version}_", "--version"])
      unless ok
        fixture = File.join(ROOT, "spec/fixtures/bundler/bundler-#{cell.version}.gem")
        return "Bundler #{cell.version} is not installed and there is no #{fixture}: #{version.strip}" unless File.exist?(fixture)

        log "  installing Bundler #{cell.version} from #{fixture}"
        out, ok = in_cell_capture(cell, ["gem", "install", "--local", "--no-document", fixture])
        return "gem install #{fixture} failed: #{out.lines.last(3).join.strip}" unless ok

        version, ok = in_cell_capture(cell, ["bundle", "_#{cell.version}_", "--version"])
        return "bundle _#{cell.version}_ --version failed: #{version.strip}" unless ok
      end
      facts["bundler"] = version.strip.delete_prefix("Bundler version ")
      facts["ruby_v"] = in_cell_capture(cell, %w[ruby -v]).first.strip
      problem = ensure_extension(cell) and return problem

      %w[plain plugin].each do |variant|
        problem = lock(cell, variant) and return problem
      end
      prime(cell)
    end

    # The plugin runs the extension built in the checkout's lib/ for the cell's Ruby; for a
    # root-filesystem cell it is built there (bin/rootfs --toolchain) when missing or older
    # than the engine's sources, unless WOW_BENCH_BUILD=0.
    def ensure_extension(cell)
      minor = @facts[cell.id]["ruby_v"][/ruby (\d+\.\d+)/, 1]
      so = File.join(ROOT, "lib/wow/fetch", minor.to_s, "wow_fetch.so")
      stale = Bench.stale?(so)
      if cell.rootfs && stale && ENV["WOW_BENCH_BUILD"] != "0"
        log "  building the extension for Ruby #{minor} in the #{cell.rootfs} root filesystem (rake compile; minutes)"
        out, ok = capture(["timeout", "3600", File.join(ROOT, "bin/rootfs"), "run", "--toolchain", "--env",
                           "CARGO_TARGET_DIR=#{File.join(ROOT, "target", "ruby-#{minor}")}", cell.rootfs, "--", "rake", "compile"])
        return "rake compile for Ruby #{minor} failed: #{out.lines.last(5).join.strip}" unless ok
      elsif stale
        log "  note: #{so} is missing or older than the engine's sources"
      end
      out, ok = in_cell_capture(cell, ["ruby", "-I", File.join(ROOT, "lib"), "-e", 'require "wow/fetch"; print Wow::Fetch::VERSION'])
      return "wow-fetch does not load in Ruby #{minor}: #{out.lines.first.to_s.strip}" unless ok

      @facts[cell.id]["wow_fetch"] = out.strip
      nil
    end

    def template(cell, variant) = File.join(@bench.work, "apps", "bundle-#{cell.id}-#{variant}")

    def gemfile_text(cell, variant, pins = {})
      gemfile = File.read(File.join(ROOT, "bench/sets/rails.Gemfile"))
      gemfile = gemfile.gsub(/ mingw mswin x64_mingw /, " windows ").gsub(/ mingw x64_mingw /, " windows ") if cell.windows
      text = "source #{@set.source.dump}\n\n#{gemfile}"
      unless pins.empty?
        text += "\n# The mirror's versions: this Ruby ships newer ones as default gems, which the lock would\n" \
                "# otherwise pick without a checksum (see bench/lib/bundle.rb).\n"
        text += pins.map { |name, version| "gem #{name.dump}, #{version.dump}\n" }.join
      end
      text += "\nplugin \"wow-fetch\", path: #{ROOT.dump}\n" if variant == "plugin"
      text
    end

    # `bundle _V_ lock` of the app, by the cell's own Bundler; kept while the set, the Gemfile
    # and the version are unchanged. The lock must name exactly the set's gems: a Ruby whose
    # default gems are newer than the mirror's (Ruby 3.3.8 ships stringio 3.1.1; the set has
    # 3.1.0, which psych needs at any version) makes Bundler 2.5+ lock the local default gem with
    # an empty CHECKSUMS entry, and a frozen install then refuses to run. Such gems are pinned
    # to the set's version in the Gemfile (the same gems get installed in every cell) and the
    # pins are reported.
    def lock(cell, variant)
      app = template(cell, variant)
      pins_file = File.join(app, ".pins")
      pins = File.exist?(pins_file) ? File.read(pins_file).lines.to_h { |l| l.split } : {}
      stamp = ["lock v2", File.read(File.join(@set.site, ".stamp")), gemfile_text(cell, variant), cell.version].join("\0")
      stamp_file = File.join(app, ".stamp")
      if File.exist?(stamp_file) && File.read(stamp_file) == stamp && File.exist?(File.join(app, "Gemfile.lock"))
        (@facts[cell.id]["pins"] ||= {}).merge!(pins)
        return nil
      end

      FileUtils.rm_rf(app)
      FileUtils.mkdir_p(app)
      pins = {}
      2.times do |attempt|
        File.write(File.join(app, "Gemfile"), gemfile_text(cell, variant, pins))
        FileUtils.rm_f(File.join(app, "Gemfile.lock"))
        home = @bench.fresh_dir("bundle-lock-home")
        env = run_env(home).merge("WOW_FETCH_PLUGIN" => "0")
        log "  bundle _#{cell.version}_ lock (#{variant} Gemfile#{pins.empty? ? "" : ", pinned #{pins.map { |n, v| "#{n} #{v}" }.join(", ")}"})"
        r = in_cell_timed(cell, ["bundle", "_#{cell.version}_", "lock"], env, app, "bundle-lock-#{cell.id}-#{variant}")
        return "bundle _#{cell.version}_ lock (#{variant}) failed: #{tail(r["log"])}" unless r["exit"]&.zero?

        locked = File.read(File.join(app, "Gemfile.lock")).scan(/^    (\S+) \(([^)\s]+)\)$/).to_h
        wanted = @set.items.to_h { |i| [i.name, i.full_name.delete_prefix("#{i.name}-")] }
        differ = wanted.reject { |name, version| locked[name] == version }
        extra = locked.keys - wanted.keys - ["wow-fetch"]
        break if differ.empty? && extra.empty?

        if attempt.positive? || !extra.empty? || differ.any? { |name, _| locked[name].nil? }
          return "bundle _#{cell.version}_ lock (#{variant}) locked other gems than the set: " \
                 "#{differ.map { |n, v| "#{n} #{locked[n] || "missing"} (set: #{v})" }.join(", ")}#{extra.empty? ? "" : "; extra #{extra.join(", ")}"}"
        end
        log "  the lock took #{differ.map { |n, _| "#{n} #{locked[n]}" }.join(", ")} (this Ruby's default gems?); pinning the set's versions"
        pins = differ
      end
      File.write(pins_file, pins.map { |n, v| "#{n} #{v}\n" }.join)
      (@facts[cell.id]["pins"] ||= {}).merge!(pins)
      File.write(stamp_file, stamp)
      nil
    end

    # A plain install, untimed, to learn where this Bundler caches .gem files: the directories
    # (relative to HOME) that hold every locked gem afterwards.
    def prime(cell)
      home = @bench.fresh_dir("bundle-prime-#{cell.id}")
      app = app_copy(cell, "plain", home)
      r = in_cell_timed(cell, ["bundle", "_#{cell.version}_", "install"], install_env(home), app, "bundle-prime-#{cell.id}")
      return "the priming plain install failed: #{tail(r["log"])}" unless r["exit"]&.zero?

      problem = verify_installed(home, r["log"]) and return "the priming plain install: #{problem}"

      # Every downloaded .gem: all of the set's, less any Bundler took from Ruby's default gems
      # (Ruby 3.1 ships ruby2_keywords 0.0.5, which Bundler 2.3 uses in place).
      names = @set.items.to_h { |i| [i.file, true] }
      counts = Dir[File.join(home, "**", "*.gem")].reject { |f| f.start_with?(File.join(home, "app/")) }
                                                  .group_by { |f| File.dirname(f) }
                                                  .transform_values { |files| files.count { |f| names[File.basename(f)] } }
      dirs = counts.select { |_, n| n >= names.size * 0.9 }.keys
      return "after a plain install no directory under HOME holds the set's .gem files (#{counts.max_by(&:last).inspect})" if dirs.empty?

      @layout[cell.id] = dirs.map { |d| d.delete_prefix("#{home}/") }
      @facts[cell.id]["gem_cache"] = @layout[cell.id]
      @facts[cell.id]["prime_s"] = r["wall"]
      log format("  Bundler %s caches .gem files in %s (priming install %.1f s)", cell.version,
                 @layout[cell.id].map { |d| "HOME/#{d}" }.join(" and "), r["wall"])
      nil
    end

    def measure(kase)
      if @tools.empty?
        log "case #{kase.id}: no Bundler variant chosen by --peers; left out"
        return nil
      end
      log "case #{kase.id}: `bundle install` of the #{@set.id} set (#{@set.items.size} gems, " \
          "#{(@set.bytes / 1e6).round(1)} MB), RTT #{kase.rtt_ms} ms, #{kase.rate_mbit} Mbit/s, " \
          "#{@tools.size} variants: #{@tools.map(&:id).join(", ")}"
      load_before, check = @bench.case_start(kase, @set)
      skipped = @tools.to_h { |t| [t.id, @problems[t.cell.id] && "cannot run: #{@problems[t.cell.id]}"] }
      entries = @bench.round_robin(kase, @tools, @bench.opts[:runs], skipped: skipped) { |tool, round| run_once(kase, tool, round) }
      relay = @bench.wan_stop
      limit = kase.wire_limit(@set.bytes)
      @bench.case_facts(kase, @set, load_before, check, relay).merge(
        "peers" => entries.map do |e|
          tool = @tools.find { |t| t.id == e["id"] }
          e.merge("cell" => tool.cell.id, "variant" => tool.variant).merge(Report.summary(e["runs"], limit, @set.bytes))
        end,
        "cells" => @cells.to_h do |cell|
          [cell.id, { "version" => cell.version, "ruby" => cell.ruby, "problem" => @problems[cell.id] }.merge(@facts[cell.id] || {})]
        end,
      )
    end

    def run_once(kase, tool, round)
      cell = tool.cell
      home = @bench.fresh_dir("home")
      app = app_copy(cell, tool.variant == "plugin" ? "plugin" : "plain", home)
      if tool.variant == "floor"
        @layout.fetch(cell.id).each do |rel|
          dir = File.join(home, rel)
          FileUtils.mkdir_p(dir)
          @set.items.each { |i| FileUtils.cp(File.join(@set.site, "gems", i.file), File.join(dir, i.file)) }
        end
      end
      argv, env = in_cell(cell, ["bundle", "_#{cell.version}_", "install"], install_env(home), app)
      r = @bench.measured("#{kase.id}-#{tool.id}-#{round + 1}", argv, env, app)
      r["round"] = round + 1
      r["error"] ||= verify_installed(home, r["log"])
      lines = File.exist?(r["log"]) ? File.read(r["log"]).lines.grep(/wow-fetch/).map(&:strip) : []
      r["plugin_lines"] = lines.sort_by { |l| l.start_with?("wow-fetch:") ? 0 : 1 }.first(5) unless lines.empty?
      if tool.variant == "plugin" && lines.none? { |l| l.match?(/^wow-fetch: prepared \d+ packages/) }
        r["error"] ||= "the plugin did not prefetch (#{lines.grep(/^wow-fetch:/).first || "no `wow-fetch: prepared` line in the output"})"
      end
      if tool.variant == "floor" && r["s2c_bytes"].to_i > @set.bytes / 2
        r["error"] ||= format("the floor took %.1f MB from the mirror: Bundler downloaded gems", r["s2c_bytes"] / 1e6)
      end
      r["ok"] = r["error"].nil?
      sleep 0.3
      r
    end

    # ---- helpers -------------------------------------------------------------------------------

    def run_env(home)
      Run.new(set: @set, home: home, out: home, app: File.join(home, "app"), ca: @bench.ca, source: @set.source, root: ROOT).env
    end

    # Frozen: the lockfile is the cell's own and must not change; nothing is re-resolved.
    # GEM_HOME (fresh, under HOME) must exist: Bundler 2.3 writes a path plugin's executables
    # to GEM_HOME/bin and fails the whole install when the directory is missing.
    def install_env(home)
      env = run_env(home).merge("BUNDLE_FROZEN" => "true")
      FileUtils.mkdir_p(env["GEM_HOME"])
      env
    end

    def app_copy(cell, variant, home)
      app = File.join(home, "app")
      FileUtils.mkdir_p(app)
      %w[Gemfile Gemfile.lock].each { |f| FileUtils.cp(File.join(template(cell, variant), f), File.join(app, f)) }
      app
    end

    # Every locked gem installed (its gemspec under BUNDLE_PATH), or used from Ruby's default
    # gems as Bundler's output says ("Using ruby2_keywords 0.0.5"), and "Bundle complete!";
    # nil when so.
    def verify_installed(home, log)
      output = File.exist?(log.to_s) ? File.read(log) : ""
      return "no \"Bundle complete!\" in the output" unless output.include?("Bundle complete!")

      installed = Dir[File.join(home, "bundle-path", "**", "specifications", "*.gemspec")].to_h { |f| [File.basename(f, ".gemspec"), true] }
      missing = @set.items.reject do |i|
        installed[i.full_name] || output.match?(/^Using #{Regexp.escape(i.name)} #{Regexp.escape(i.full_name.delete_prefix("#{i.name}-"))}( |$)/)
      end
      missing.empty? ? nil : "#{missing.size} of #{@set.items.size} gems not installed (#{missing.first.full_name}…)"
    end

    # [argv, env] for timed.rb: the command itself on this machine, or wrapped in unshare and
    # chroot for a root-filesystem cell (ENV then goes inside, the outside gets a bare PATH).
    def in_cell(cell, cmd, env, dir)
      return [cmd, env] unless cell.rootfs

      inner = env.map { |k, v| "#{k}=#{v}" }
      argv = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-euc", CHROOT, "sh",
              @rootfs_dir, ROOT, @bench.work, *inner, "/bin/sh", "-c", 'cd "$0" && exec "$@"', dir, *cmd]
      [argv, { "PATH" => "/usr/sbin:/usr/bin:/sbin:/bin", "LANG" => "C.UTF-8" }]
    end

    def in_cell_timed(cell, cmd, env, dir, name)
      argv, outer = in_cell(cell, cmd, env, dir)
      log = @bench.log_path(name)
      @bench.timed(argv, outer, dir, timeout: 600, log: log).merge("log" => log)
    end

    # Output and success of CMD in the cell (client namespace, scratch HOME).
    def in_cell_capture(cell, cmd)
      home = @bench.fresh_dir("bundle-probe")
      r = in_cell_timed(cell, cmd, run_env(home), home, "bundle-probe")
      [File.exist?(r["log"]) ? File.read(r["log"]) : "", r["exit"]&.zero?]
    end

    def capture(argv)
      out = IO.popen(argv, err: %i[child out], &:read)
      [out, $?.success?]
    end

    def tail(log) = File.exist?(log.to_s) ? File.read(log).lines.last(4).join.strip : "(no log)"
  end
end

# frozen_string_literal: true

# The tools measured, each as the command a Ruby user would run to download a set of gems,
# cold: a fresh HOME, gem and Bundler caches and destination for every run. A peer returns
# { argv:, env:, dir:, out: } where `out` is the directory whose *.gem files are checked
# afterwards against the set (name, size, SHA-256).

require "fileutils"

module WowBench
  # What a peer needs to build its command for one run.
  Run = Struct.new(:set, :home, :out, :app, :ca, :source, :root, keyword_init: true) do
    # "URL FILE_NAME" lines for the URL-list tools.
    def url_list
      path = File.join(home, "urls.txt")
      File.write(path, set.items.map { |i| "#{i.url} #{i.file}\n" }.join)
      path
    end

    # A copy of the set's Gemfile and Gemfile.lock, as an app checkout would have them.
    def app_dir
      FileUtils.mkdir_p(app)
      FileUtils.cp(set.gemfile, File.join(app, "Gemfile"))
      FileUtils.cp(set.lockfile, File.join(app, "Gemfile.lock"))
      app
    end

    def env
      {
        "PATH" => "/usr/local/bin:/usr/bin:/bin",
        "HOME" => home,
        "LANG" => "C.UTF-8",
        "SSL_CERT_FILE" => ca,
        "GEM_HOME" => File.join(home, "gems"),
        "GEM_SPEC_CACHE" => File.join(home, "gem-specs"),
        "XDG_CACHE_HOME" => File.join(home, "cache"),
        "BUNDLE_USER_HOME" => File.join(home, "bundle-home"),
        "BUNDLE_APP_CONFIG" => File.join(home, "bundle-config"),
        "BUNDLE_PATH" => File.join(home, "bundle-path"),
        "BUNDLE_DISABLE_VERSION_CHECK" => "true",
        "WOW_CACHE_DIR" => File.join(home, "wow-cache"),
        # The engine's connections-per-host knob, passed through only when set (for sweeps
        # such as `WOW_FETCH_LANES=1 bench/run --peers wow-ruby`).
      }.merge(ENV.slice("WOW_FETCH_LANES"))
    end
  end

  Peer = Struct.new(:id, :label, :builder, keyword_init: true) do
    def command(run) = builder.call(run)
  end

  module Peers
    module_function

    # Debian 12's Bundler, by version: with another Bundler installed as a system gem (this
    # machine has 2.6.9 for the compatibility matrix) plain `bundle` runs the newest one.
    # bench/run locks the sets with it, so BUNDLED WITH matches and nothing switches versions.
    SYSTEM_BUNDLER = "2.3.15"
    BUNDLE = ["bundle", "_#{SYSTEM_BUNDLER}_"].freeze

    # The tools of a download case (CASE_ID picks aria2c's best setting; nil: every case's).
    def all(root, case_id = nil)
      [
        Peer.new(id: "gem-fetch", label: "gem fetch (one process)", builder: lambda { |r|
          names = r.set.items.map { |i| "#{i.name}:#{i.version}" }
          { argv: ["gem", "fetch", "--clear-sources", "--source", "#{r.source}/", *names],
            env: r.env, dir: r.out, out: r.out }
        }),
        Peer.new(id: "bundle-default", label: "Bundler #{SYSTEM_BUNDLER}: bundle cache --no-install (default jobs)", builder: lambda { |r|
          app = r.app_dir
          { argv: [*BUNDLE, "cache", "--no-install"], env: r.env, dir: app, out: File.join(app, "vendor/cache") }
        }),
        Peer.new(id: "bundle-16", label: "Bundler #{SYSTEM_BUNDLER}: bundle cache --no-install, BUNDLE_JOBS=16", builder: lambda { |r|
          app = r.app_dir
          { argv: [*BUNDLE, "cache", "--no-install"], env: r.env.merge("BUNDLE_JOBS" => "16"), dir: app,
            out: File.join(app, "vendor/cache") }
        }),
        Peer.new(id: "typhoeus", label: "Typhoeus::Hydra, max_concurrency 16", builder: lambda { |r|
          { argv: ["ruby", File.join(root, "bench/lib/typhoeus_fetch.rb"), r.url_list, r.out, r.ca],
            env: r.env, dir: r.out, out: r.out }
        }),
        curl(16),
        curl(64),
        aria2c(16, best: aria2c_best(case_id).nil? && case_id),
        *[aria2c_best(case_id)].compact,
        *wow_fetch(root),
      ]
    end

    # Any tool by id: the default list's, or a setting for a sweep that is not in it:
    # `curl-N` (--parallel-max N), `aria2c-jN` and `aria2c-jN-xM` (-j N, --max-connection-per-server
    # M with --split M and 1 MiB pieces). nil for an unknown id.
    def find(root, id)
      all(root).find { |p| p.id == id } ||
        case id
        when /\Acurl-(\d+)\z/ then curl(Integer(Regexp.last_match(1)))
        when /\Aaria2c-j(\d+)(?:-x(\d+))?\z/
          aria2c(Integer(Regexp.last_match(1)), Regexp.last_match(2)&.then { |x| Integer(x) }, id: id)
        end
    end

    # curl over HTTP/2 (one connection, N streams), every URL in one process.
    def curl(max)
      Peer.new(id: max == 16 ? "curl" : "curl-#{max}", label: "curl --parallel --parallel-max #{max} (HTTP/2)",
               builder: lambda { |r|
                 config = File.join(r.home, "curl.cfg")
                 File.write(config, r.set.items.map { |i|
                   "url = \"#{i.url}\"\noutput = \"#{File.join(r.out, i.file)}\"\n"
                 }.join)
                 { argv: ["curl", "--parallel", "--parallel-max", max.to_s, "--http2", "--cacert", r.ca,
                          "--fail", "--silent", "--show-error", "--config", config],
                   env: r.env, dir: r.out, out: r.out }
               })
    end

    # aria2c's best setting per case, from a smoke sweep (one cold run per setting and case,
    # `sudo bench/run --runs 1 --cases CASE --peers aria2c,aria2c-j32,aria2c-j64,...`; 2-core
    # VM, 1-minute load 1.4–3.8 from a colleague's compiles, so ±10% and the odd stall):
    #
    #   rails-100  -j 16 2.55, 2.56 s · -j 32 2.90, 2.66 · -j 64 3.02, 2.73 · -j 64 -x 4 3.14 ·
    #              -j 16 -x 16 2.97 · -j 64 -x 16 2.95: more connections ramping at once overflow
    #              the 100 ms queue; 16 is best, so no second row.
    #   rails-1g   -j 16 6.94 (a stall), 1.64 · -j 32 1.09, 1.10 · -j 64 0.98, 2.27 ·
    #              -j 64 -x 4 1.87 · -j 16 -x 16 1.68 · -j 64 -x 16 1.76: 32 is best by median
    #              and steadiest; 64 spreads from 1.0 to 2.3 s.
    #   small-100  -j 16 8.69 · -j 32 7.47 · -j 64 5.67 · -j 128 5.89: one request per
    #              connection at a time (HTTP/1.1), so more connections, up to 64.
    #   big-1g     -x 1 4.15 · -x 4 3.45 · -x 8 2.87 · -x 16 2.68 (one file: -j is moot; -x 16
    #              is aria2c's maximum, with --split 16 and 1 MiB pieces).
    #
    # [jobs, per_server] for `aria2c(...)`; a case not listed has no best row besides -j 16.
    ARIA2C_BEST = {
      "rails-1g" => [32, nil],
      "small-100" => [64, nil],
      "big-1g" => [16, 16],
    }.freeze

    # The aria2c-best peer of a case, or nil when -j 16 is its best (or for no case).
    def aria2c_best(case_id)
      setting = ARIA2C_BEST[case_id] or return nil

      aria2c(*setting, id: "aria2c-best", best: true)
    end

    # aria2c speaks HTTP/1.1 only: -j N downloads at once, each on its own connection (kept alive
    # and reused for the next file). -x M (--max-connection-per-server, default 1) lets one file
    # use up to M connections to the server, in pieces of at least --min-split-size (1 MiB here;
    # aria2c's default of 20 MiB splits nothing but the 210 MB gem), up to --split M of them.
    def aria2c(jobs, per_server = nil, id: nil, best: false)
      split = per_server ? ["-x", per_server.to_s, "--split", per_server.to_s, "--min-split-size", "1M"] : []
      label = "aria2c -j #{jobs}#{per_server ? " -x #{per_server} -s #{per_server} -k 1M" : ""}"
      label += " (its best here)" if best
      Peer.new(id: id || (jobs == 16 && !per_server ? "aria2c" : "aria2c-j#{jobs}#{per_server ? "-x#{per_server}" : ""}"),
               label: label, builder: lambda { |r|
                 input = File.join(r.home, "aria2.txt")
                 File.write(input, r.set.items.map { |i| "#{i.url}\n  out=#{i.file}\n" }.join)
                 { argv: ["aria2c", "-j", jobs.to_s, *split, "--input-file", input, "--dir", r.out,
                          "--ca-certificate", r.ca, "--quiet", "--allow-overwrite=true"],
                   env: r.env, dir: r.out, out: r.out }
               })
    end

    # ---------------------------------------------------------------------------------------
    # wow-fetch's runners. They use the gem from this checkout (`-I lib` after `rake compile`)
    # at its defaults; bench/run skips them, marked "not built", while `require "wow/fetch"`
    # fails.
    # ---------------------------------------------------------------------------------------
    def wow_fetch(root)
      lib = File.join(root, "lib")
      [
        # One process per run; bench/lib/wow_call.rb also times the `download_all` call inside
        # it, which the harness reports as its own row, "wow-fetch, Ruby API (the call)".
        Peer.new(id: "wow-ruby", label: "wow-fetch, Ruby API (whole process)", builder: lambda { |r|
          list = File.join(r.home, "items.txt")
          File.write(list, r.set.items.map { |i| "#{i.full_name}\n" }.join)
          times = File.join(r.home, "wow-call.txt")
          { argv: ["ruby", "-I", lib, File.join(root, "bench/lib/wow_call.rb"), list, r.out, r.source, times],
            env: r.env, dir: r.out, out: r.out, times: times }
        }),
        Peer.new(id: "wow-cli", label: "wow-fetch CLI --lockfile (whole process)", builder: lambda { |r|
          app = r.app_dir
          { argv: ["ruby", "-I", lib, File.join(root, "exe/wow-fetch"), "--lockfile", File.join(app, "Gemfile.lock"),
                   "--dest", r.out],
            env: r.env, dir: app, out: r.out }
        }),
      ]
    end

    # Whether this checkout's wow-fetch loads (the extension is compiled).
    def wow_fetch_available?(root)
      system("ruby", "-I", File.join(root, "lib"), "-e", 'require "wow/fetch"', %i[out err] => File::NULL)
    end
  end
end

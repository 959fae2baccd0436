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

    def all(root)
      [
        Peer.new(id: "gem-fetch", label: "gem fetch (one process)", builder: lambda { |r|
          names = r.set.items.map { |i| "#{i.name}:#{i.version}" }
          { argv: ["gem", "fetch", "--clear-sources", "--source", "#{r.source}/", *names],
            env: r.env, dir: r.out, out: r.out }
        }),
        Peer.new(id: "bundle-default", label: "bundle cache --no-install (default jobs)", builder: lambda { |r|
          app = r.app_dir
          { argv: %w[bundle cache --no-install], env: r.env, dir: app, out: File.join(app, "vendor/cache") }
        }),
        Peer.new(id: "bundle-16", label: "bundle cache --no-install, BUNDLE_JOBS=16", builder: lambda { |r|
          app = r.app_dir
          { argv: %w[bundle cache --no-install], env: r.env.merge("BUNDLE_JOBS" => "16"), dir: app,
            out: File.join(app, "vendor/cache") }
        }),
        Peer.new(id: "typhoeus", label: "Typhoeus::Hydra, max_concurrency 16", builder: lambda { |r|
          { argv: ["ruby", File.join(root, "bench/lib/typhoeus_fetch.rb"), r.url_list, r.out, r.ca],
            env: r.env, dir: r.out, out: r.out }
        }),
        Peer.new(id: "curl", label: "curl --parallel --parallel-max 16 (HTTP/2)", builder: lambda { |r|
          config = File.join(r.home, "curl.cfg")
          File.write(config, r.set.items.map { |i|
            "url = \"#{i.url}\"\noutput = \"#{File.join(r.out, i.file)}\"\n"
          }.join)
          { argv: ["curl", "--parallel", "--parallel-max", "16", "--http2", "--cacert", r.ca,
                   "--fail", "--silent", "--show-error", "--config", config],
            env: r.env, dir: r.out, out: r.out }
        }),
        Peer.new(id: "aria2c", label: "aria2c -j 16", builder: lambda { |r|
          input = File.join(r.home, "aria2.txt")
          File.write(input, r.set.items.map { |i| "#{i.url}\n  out=#{i.file}\n" }.join)
          { argv: ["aria2c", "-j", "16", "--input-file", input, "--dir", r.out,
                   "--ca-certificate", r.ca, "--quiet", "--allow-overwrite=true"],
            env: r.env, dir: r.out, out: r.out }
        }),
        *wow_fetch(root),
      ]
    end

    # ---------------------------------------------------------------------------------------
    # wow-fetch's runners. They use the gem from this checkout (`-I lib` after `rake compile`)
    # at its defaults; bench/run skips them, marked "not built", while `require "wow/fetch"`
    # fails.
    # ---------------------------------------------------------------------------------------
    def wow_fetch(root)
      lib = File.join(root, "lib")
      [
        Peer.new(id: "wow-ruby", label: "wow-fetch, Ruby API (defaults)", builder: lambda { |r|
          list = File.join(r.home, "items.txt")
          File.write(list, r.set.items.map { |i| "#{i.full_name}\n" }.join)
          script = 'require "wow/fetch"; ' \
                   'Wow::Fetcher.download_all(File.readlines(ARGV[0], chomp: true), dest: ARGV[1], source: ARGV[2])'
          { argv: ["ruby", "-I", lib, "-e", script, list, r.out, r.source], env: r.env, dir: r.out, out: r.out }
        }),
        Peer.new(id: "wow-cli", label: "wow-fetch CLI --lockfile (defaults)", builder: lambda { |r|
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

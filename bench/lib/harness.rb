# frozen_string_literal: true

# The benchmark driver behind bench/run: fixtures, TLS, the nginx mirror in the server
# namespace, the emulated WAN per case, the self-check, cold runs of every tool (round-robin,
# so drift on a shared machine hits all tools alike), and the report. Three kinds of case:
# downloads of a gem set by every peer (rails-100, rails-1g, small-100, big-1g), start-up
# (bench/lib/startup.rb) and `bundle install` with and without the plugin (bench/lib/bundle.rb).
# Every wait and loop here is bounded in count and time.

require "digest"
require "etc"
require "fileutils"
require "json"
require "optparse"
require "shellwords"
require "time"
require_relative "index"
require_relative "peers"
require_relative "startup"
require_relative "bundle"
require_relative "report"

module WowBench
  ROOT = File.expand_path("../..", __dir__)
  HOST = "mirror.wow.test"
  WAN = File.join(ROOT, "target/release/wow-wan")
  GEN = File.join(ROOT, "target/release/wow-bench-fixtures")
  WAN_STATE = "/run/wow-wan"
  CLIENT_NS = "wowc"
  SERVER_NS = "wows"

  Item = Struct.new(:name, :version, :platform, :full_name, :file, :url, :size, :sha256, keyword_init: true)

  # A gem set: generated gems, both indexes, a Gemfile and the lockfile Bundler resolves from it.
  class GemSet
    attr_reader :id, :gen_args, :site, :app, :items

    def initialize(id, gen_args, work, &gemfile_body)
      @id = id
      @gen_args = gen_args
      @site = File.join(work, "www", id)
      @app = File.join(work, "apps", id)
      @gemfile_body = gemfile_body
    end

    def source = "https://#{HOST}/#{id}"
    def gemfile = File.join(app, "Gemfile")
    def lockfile = File.join(app, "Gemfile.lock")
    def bytes = items.sum(&:size)

    # Inputs that decide the bytes: the generator's source, the fixture module, the manifest.
    def stamp
      inputs = Dir[File.join(ROOT, "crates/mirror/src/fixtures/*.rs")].sort +
               [File.join(ROOT, "bench/gen/src/main.rs"), File.join(ROOT, "bench/lib/index.rb")]
      inputs << File.join(ROOT, gen_args[1]) if gen_args.first == "manifest"
      Digest::SHA256.hexdigest(([gen_args.join(" ")] + inputs.map { |f| File.read(f) }).join("\0"))
    end

    def build!
      stamp_file = File.join(site, ".stamp")
      return if File.exist?(stamp_file) && File.read(stamp_file) == stamp

      Bench.log "fixtures: generating set #{id} (#{gen_args.join(" ")})"
      FileUtils.rm_rf(site)
      FileUtils.mkdir_p(File.join(site, "gems"))
      args = gen_args.dup
      args[1] = File.join(ROOT, args[1]) if args.first == "manifest"
      Bench.sh!(GEN, *args, File.join(site, "gems"), out: File::NULL)
      WowBench::Index.write(site)
      FileUtils.rm_rf(app)
      File.write(stamp_file, stamp)
    end

    # `bundle _2.3.15_ lock` against the mirror, in the client namespace: the lockfile is
    # Bundler's own (Debian 12's Bundler, as the Gemfile's platform spelling expects).
    def lock!(bench)
      FileUtils.mkdir_p(app)
      File.write(gemfile, "source #{source.dump}\n\n#{@gemfile_body.call}")
      return if File.exist?(lockfile) && File.mtime(lockfile) >= File.mtime(File.join(site, ".stamp")) &&
                File.read(lockfile).include?("BUNDLED WITH\n   #{Peers::SYSTEM_BUNDLER}\n")

      Bench.log "fixtures: bundle lock for set #{id}"
      home = bench.fresh_dir("lock-home")
      run = Run.new(set: self, home: home, out: home, app: app, ca: bench.ca, source: source, root: ROOT)
      result = bench.timed([*Peers::BUNDLE, "lock"], run.env, app, timeout: 600, log: bench.log_path("lock-#{id}"))
      raise "bundle lock failed for #{id}; see #{bench.log_path("lock-#{id}")}" unless result["exit"]&.zero?
    end

    # The specs of the lockfile's GEM section: `    name (version[-platform])` lines.
    def load_items!
      by_file = Dir[File.join(site, "gems", "*.gem")].to_h { |f| [File.basename(f), f] }
      specs = File.read(lockfile).scan(/^    (\S+) \(([^)\s]+)\)$/)
      raise "#{lockfile}: no specs" if specs.empty?

      @items = specs.map do |name, locked|
        version, platform = locked.split("-", 2)
        platform ||= "ruby"
        full = "#{name}-#{locked}"
        path = by_file.fetch("#{full}.gem") { raise "#{id}: locked #{full} is not on the mirror" }
        Item.new(name: name, version: version, platform: platform, full_name: full,
                 file: "#{full}.gem", url: "#{source}/gems/#{full}.gem", size: File.size(path),
                 sha256: Digest::SHA256.file(path).hexdigest)
      end.sort_by(&:full_name)
    end
  end

  # What crosses the bottleneck per byte of the files (issue 18, decision 2). At MTU 1500 with
  # TCP timestamps a full packet carries 1448 bytes of payload in 1500 on the wire (20 IP + 20
  # TCP + 12 options): 1500 / 1448 = 1.0359. TLS records (22 bytes per 16 KiB record with
  # TLS 1.3 and AES-GCM) and HTTP/2 frame headers (9 bytes per 16 KiB DATA frame) add about
  # 0.2%: 1.036 × 1.002 ≈ 1.038. The relay counts IP packets, so this is what its rate limits.
  WIRE_FACTOR = 1.038

  Case = Struct.new(:id, :kind, :set, :rtt_ms, :rate_mbit, keyword_init: true) do
    # Every byte of the files once through the bottleneck, plus connect, TLS 1.3 and the first
    # request: the limit the earlier reports used (payload only).
    def payload_limit(bytes) = bytes * 8.0 / (rate_mbit * 1e6) + 3 * rtt_ms / 1e3

    # The same with the bytes on the wire (headers of every packet, TLS record and HTTP/2
    # frame): what "× limit" is judged against.
    def wire_limit(bytes) = WIRE_FACTOR * bytes * 8.0 / (rate_mbit * 1e6) + 3 * rtt_ms / 1e3
  end

  class Bench
    def self.log(message)
      warn "[#{Time.now.strftime("%H:%M:%S")}] #{message}"
    end

    # Whether the compiled extension at `so` is missing or older than the engine's sources.
    def self.stale?(so)
      return true unless File.exist?(so)

      sources = Dir[File.join(ROOT, "{crates/core,ext}/**/*.{rs,toml}")].reject { |f| f.include?("/target/") } +
                [File.join(ROOT, "Cargo.lock")]
      sources.any? { |f| File.mtime(f) > File.mtime(so) }
    end

    def self.sh!(*cmd, **opts)
      system(*cmd, **opts) || raise("command failed: #{cmd.shelljoin}")
    end

    attr_reader :work, :ca

    def initialize(options)
      @opts = options
      @work = options[:work]
      @ca = File.join(work, "tls/ca.pem")
      FileUtils.mkdir_p([work, File.join(work, "logs")])
      @sets = {
        "rails" => GemSet.new("rails", %w[manifest bench/sets/rails.txt], work) {
          File.read(File.join(ROOT, "bench/sets/rails.Gemfile"))
        },
        "small" => GemSet.new("small", %w[small 1000], work) {
          (0...1000).map { |i| format("gem \"tiny-%04d\"\n", i) }.join
        },
        "big" => GemSet.new("big", %w[big 200], work) { "gem \"bigdata\"\n" },
      }
      @cases = CASES.select { |c| options[:cases].nil? || options[:cases].include?(c.id) }
      unknown = Array(options[:cases]) - CASES.map(&:id)
      raise "unknown case #{unknown.join(", ")} (#{CASES.map(&:id).join(", ")})" if unknown.any?

      # Download cases' tools per case (aria2c's best setting differs by case).
      @peers = CASES.to_h { |c| [c.id, select_tools(Peers.all(ROOT, c.id), options[:peers]) { |id| Peers.find(ROOT, id) }] }
      @bundle = BundleBench.new(self, @sets.fetch("rails"), options[:peers])
    end

    CASES = [
      Case.new(id: "rails-100", kind: :download, set: "rails", rtt_ms: 50, rate_mbit: 100),
      Case.new(id: "rails-1g", kind: :download, set: "rails", rtt_ms: 50, rate_mbit: 1000),
      Case.new(id: "small-100", kind: :download, set: "small", rtt_ms: 50, rate_mbit: 100),
      Case.new(id: "big-1g", kind: :download, set: "big", rtt_ms: 50, rate_mbit: 1000),
      # Start-up needs no bandwidth; the WAN is up at 50 ms so that a warm run which did touch
      # the network would show it.
      Case.new(id: "startup", kind: :startup, set: "rails", rtt_ms: 50, rate_mbit: 1000),
      Case.new(id: "bundle-100", kind: :bundle, set: "rails", rtt_ms: 50, rate_mbit: 100),
      Case.new(id: "bundle-1g", kind: :bundle, set: "rails", rtt_ms: 50, rate_mbit: 1000),
    ].freeze

    attr_reader :opts

    # The tools of `list` that `wanted` (ids; `prefix*` matches a prefix) names, in `list`'s
    # order, then ids outside `list` that the block can make (sweep settings). All of `list`
    # when `wanted` is nil.
    def select_tools(list, wanted)
      return list if wanted.nil?

      chosen = list.select { |t| Bench.wanted?(wanted, t.id) }
      extra = wanted.reject { |w| w.end_with?("*") || list.any? { |t| t.id == w } }.filter_map { |id| yield(id) }
      chosen + extra
    end

    def self.wanted?(wanted, id)
      wanted.nil? || wanted.any? { |w| w.end_with?("*") ? id.start_with?(w.chomp("*")) : w == id }
    end

    def log_path(name) = File.join(work, "logs", "#{name}.log")

    def fresh_dir(name)
      dir = File.join(work, "run", name)
      FileUtils.rm_rf(dir)
      FileUtils.mkdir_p(dir)
      dir
    end

    def run
      sets = @cases.map(&:set).uniq.map { |id| @sets.fetch(id) }
      sets.each(&:build!)
      tls!
      wow_ok = Peers.wow_fetch_available?(ROOT)
      self.class.log("wow-fetch does not load yet (rake compile?): its runs are skipped") unless wow_ok
      results = { "started" => Time.now.utc.iso8601, "options" => @opts.slice(:runs, :startup_runs, :budget, :timeout, :cases, :peers).transform_keys(&:to_s),
                  "machine" => machine, "cases" => [] }
      begin
        # Lockfiles are resolved on a fast path: only the measured runs need the WAN.
        wan_up(1, 0)
        nginx_up
        sets.each { |s| s.lock!(self) }
        sets.each(&:load_items!)
        # Bundler cells (lockfiles per Bundler, where each puts its cache) are set up on the
        # fast path too, once, before any case is measured.
        @bundle.prepare! if @cases.any? { |c| c.kind == :bundle }
        @cases.each do |c|
          result = case c.kind
                   when :download then measure_case(c, wow_ok)
                   when :startup then Startup.new(self, @sets.fetch(c.set), wow_ok).measure(c)
                   when :bundle then @bundle.measure(c)
                   end
          results["cases"] << result if result
        end
      ensure
        wan_stop
        nginx_down
        system(WAN, "down")
      end
      results["finished"] = Time.now.utc.iso8601
      out = @opts[:out]
      FileUtils.mkdir_p(out)
      File.write(File.join(out, "latest.json"), JSON.pretty_generate(results))
      File.write(File.join(out, "latest.md"), Report.markdown(results))
      File.write(File.join(out, "latest.svg"), Report.svg(results))
      self.class.log "wrote #{out}/latest.{md,svg,json}"
      puts Report.markdown(results)
    end

    # For working on the engine: the case's network and mirror stay up until Ctrl-C, and
    # `run/items-SET.txt` lists the set's gems (`full_name sha256`) for commands run in the
    # client namespace, e.g. `ip netns exec wowc env SSL_CERT_FILE=CA ruby -Ilib ...`.
    def serve
      kase = @cases.first or raise "--serve: unknown case"
      set = @sets.fetch(kase.set)
      set.build!
      tls!
      begin
        wan_up(1, 0)
        nginx_up
        set.lock!(self)
        set.load_items!
        wan_up(kase.rtt_ms, kase.rate_mbit, kase.id)
        items = File.join(work, "run", "items-#{set.id}.txt")
        FileUtils.mkdir_p(File.dirname(items))
        File.write(items, set.items.map { |i| "#{i.full_name} #{i.sha256}\n" }.join)
        self.class.log "serving #{kase.id}: source #{set.source}, CA #{ca}, items #{items}, " \
                       "wire limit #{kase.wire_limit(set.bytes).round(2)} s; client namespace #{CLIENT_NS}. Ctrl-C stops."
        sleep
      rescue Interrupt, SignalException
        nil
      ensure
        wan_stop
        nginx_down
        system(WAN, "down")
      end
    end

    # ---- TLS -------------------------------------------------------------------------------

    # A CA made here (EC P-256), trusted by each peer through SSL_CERT_FILE, --cacert or
    # --ca-certificate, and a certificate for mirror.wow.test it signs.
    def tls!
      dir = File.join(work, "tls")
      return if File.exist?(File.join(dir, "server.pem"))

      FileUtils.mkdir_p(dir)
      Dir.chdir(dir) do
        q = { out: File::NULL, err: File::NULL }
        self.class.sh!("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=wow-bench CA",
                       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", **q)
        self.class.sh!("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=#{HOST}", **q)
        File.write("ext.cnf", "subjectAltName=DNS:#{HOST}\nbasicConstraints=CA:FALSE\n" \
                              "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        self.class.sh!("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                       "-CAcreateserial", "-out", "server.pem", "-days", "3650", "-extfile", "ext.cnf", **q)
      end
    end

    # ---- the emulated WAN --------------------------------------------------------------------

    def wan_up(rtt_ms, rate_mbit, name = "setup")
      wan_stop
      log = log_path("wan-#{name}")
      @wan_pid = Process.spawn(WAN, "up", "--rtt-ms", rtt_ms.to_s, "--rate-mbit", rate_mbit.to_s,
                               %i[out err] => [log, "w"])
      @wan_log = log
      deadline = Time.now + 15
      sleep 0.05 until File.exist?(File.join(WAN_STATE, "ready")) || Time.now > deadline || !alive?(@wan_pid)
      raise "wow-wan up did not become ready; see #{log}" unless File.exist?(File.join(WAN_STATE, "ready"))
    end

    def wan_stop
      return unless @wan_pid

      Process.kill(:TERM, @wan_pid) rescue nil # rubocop:disable Style/RescueModifier
      waiter = Process.detach(@wan_pid)
      unless waiter.join(10)
        Process.kill(:KILL, @wan_pid) rescue nil # rubocop:disable Style/RescueModifier
        waiter.join
      end
      @wan_pid = nil
      File.read(@wan_log).lines.grep(/ packets,|stopped/).map(&:strip)
    end

    def wan_stats
      JSON.parse(IO.popen([WAN, "stats"], &:read))
    rescue JSON::ParserError
      nil
    end

    def alive?(pid)
      Process.kill(0, pid)
      true
    rescue Errno::ESRCH
      false
    end

    # ---- the mirror: nginx in the server namespace -------------------------------------------

    def nginx_up
      dir = File.join(work, "nginx")
      FileUtils.mkdir_p(File.join(dir, "tmp"))
      conf = File.join(dir, "nginx.conf")
      File.write(conf, nginx_conf(dir))
      nginx_down
      self.class.sh!("ip", "netns", "exec", SERVER_NS, "nginx", "-c", conf)
      @nginx_pid_file = File.join(dir, "nginx.pid")
    end

    def nginx_down
      pid_file = File.join(work, "nginx", "nginx.pid")
      return unless File.exist?(pid_file)

      pid = File.read(pid_file).to_i
      Process.kill(:QUIT, pid) rescue nil # rubocop:disable Style/RescueModifier
      50.times do
        break unless alive?(pid)

        sleep 0.1
      end
      FileUtils.rm_f(pid_file)
    end

    # HTTP/2 on 443 and HTTP/1.1 only on 8443, keep-alive for as long as any run lasts, TLS 1.3
    # with session resumption. The compact index files go out without nginx's ETag: Bundler 2.3
    # takes an ETag to be the body's MD5 and would reject nginx's (mtime-size) form.
    def nginx_conf(dir)
      tls = File.join(work, "tls")
      <<~NGINX
        daemon on;
        user root;
        worker_processes 2;
        pid #{dir}/nginx.pid;
        error_log #{dir}/error.log warn;
        events { worker_connections 4096; }
        http {
          access_log off;
          client_body_temp_path #{dir}/tmp/body;
          proxy_temp_path #{dir}/tmp/proxy;
          fastcgi_temp_path #{dir}/tmp/fastcgi;
          uwsgi_temp_path #{dir}/tmp/uwsgi;
          scgi_temp_path #{dir}/tmp/scgi;
          types { application/octet-stream gem rz; application/x-gzip gz; }
          default_type text/plain;
          sendfile on;
          tcp_nopush on;
          keepalive_timeout 300s;
          keepalive_requests 100000;
          http2_max_concurrent_streams 128;
          ssl_certificate #{tls}/server.pem;
          ssl_certificate_key #{tls}/server.key;
          ssl_protocols TLSv1.2 TLSv1.3;
          ssl_session_cache shared:SSL:10m;
          ssl_session_tickets on;
          root #{work}/www;
          server {
            listen 443 ssl http2 reuseport;
            server_name #{HOST};
            location ~ /(versions|names|info/[^/]+)$ { etag off; }
            location = /nginx_status { stub_status; }
          }
          server {
            listen 8443 ssl reuseport;
            server_name #{HOST};
            location ~ /(versions|names|info/[^/]+)$ { etag off; }
          }
        }
      NGINX
    end

    # ---- measuring ---------------------------------------------------------------------------

    # Run COMMAND in the client namespace under timed.rb; returns its JSON result.
    def timed(argv, env, dir, timeout:, log:)
      result = File.join(work, "run", "result.json")
      FileUtils.rm_f(result)
      env_args = env.map { |k, v| "#{k}=#{v}" }
      system("ip", "netns", "exec", CLIENT_NS, "env", "-i", *env_args, "/usr/bin/ruby",
             File.join(ROOT, "bench/lib/timed.rb"), result, timeout.to_s, dir, log, "--", *argv)
      File.exist?(result) ? JSON.parse(File.read(result)) : { "exit" => nil, "wall" => nil }
    end

    def wait_for_quiet
      limit = @opts[:quiet_wait]
      deadline = Time.now + limit
      load1 = File.read("/proc/loadavg").split.first.to_f
      while load1 > @opts[:quiet_load] && Time.now < deadline
        sleep 5
        load1 = File.read("/proc/loadavg").split.first.to_f
      end
      load1
    end

    # Round-robin over `tools` (each with #id and #label): `runs` rounds, each tool once per
    # round, a tool whose runs have taken more than --budget seconds sitting out later rounds.
    # The block runs one tool once and returns its result. Returns one entry per tool.
    def round_robin(kase, tools, runs, skipped: {})
      entries = tools.map { |t| { "id" => t.id, "label" => t.label, "runs" => [], "skipped" => skipped[t.id] } }
      spent = Hash.new(0.0)
      runs.times do |round|
        tools.each_with_index do |tool, i|
          entry = entries[i]
          next if entry["skipped"]
          # A slow tool gets fewer rounds rather than an unbounded share of the run.
          next if round.positive? && spent[tool.id] > @opts[:budget]

          r = yield(tool, round)
          spent[tool.id] += r["wall"].to_f
          entry["runs"] << r
          self.class.log format("  %-22s run %d: %s", tool.id, round + 1, describe(kase, r))
        end
      end
      entries
    end

    def describe(kase, r)
      return "FAILED (#{r["error"]})" unless r["ok"]

      text = if kase.kind == :startup then format("%.1f ms%s", r["wall"] * 1e3, r["syns"].to_i.positive? ? ", #{r["syns"]} conns" : "")
             else format("%.2f s, %d conns", r["wall"], r["syns"].to_i)
             end
      text += format(" (call %.2f s)", r["call_s"]) if r["call_s"]
      text += format(", %.1f MB from the mirror", r["s2c_bytes"] / 1e6) if kase.kind == :bundle && r["s2c_bytes"]
      text + format(", %d MB RSS", r["rss_kb"].to_i / 1024)
    end

    # Load average before a case, after waiting (bounded) for it to fall.
    def case_start(kase, set)
      load_before = wait_for_quiet
      wan_up(kase.rtt_ms, kase.rate_mbit, kase.id)
      [load_before, self_check]
    end

    # What every case's JSON has: the set, the network, both limits, the checks and the load.
    def case_facts(kase, set, load_before, check, relay)
      {
        "id" => kase.id, "kind" => kase.kind.to_s, "set" => set.id, "gems" => set.items.size, "bytes" => set.bytes,
        "rtt_ms" => kase.rtt_ms, "rate_mbit" => kase.rate_mbit,
        "payload_limit_s" => kase.payload_limit(set.bytes), "limit_s" => kase.wire_limit(set.bytes),
        "wire_factor" => WIRE_FACTOR, "self_check" => check, "relay_totals" => relay, "load_before" => load_before,
        "load_after" => File.read("/proc/loadavg").split.first.to_f,
      }
    end

    def measure_case(kase, wow_ok)
      set = @sets.fetch(kase.set)
      peers = @peers.fetch(kase.id)
      if peers.empty?
        self.class.log "case #{kase.id}: no peer chosen by --peers; left out"
        return nil
      end
      self.class.log "case #{kase.id}: #{set.items.size} gems, #{(set.bytes / 1e6).round(1)} MB, " \
                     "RTT #{kase.rtt_ms} ms, #{kase.rate_mbit} Mbit/s, payload limit #{kase.payload_limit(set.bytes).round(2)} s, " \
                     "wire limit #{kase.wire_limit(set.bytes).round(2)} s"
      load_before, check = case_start(kase, set)
      skipped = peers.to_h { |p| [p.id, p.id.start_with?("wow-") && !wow_ok ? "not built" : nil] }
      entries = round_robin(kase, peers, @opts[:runs], skipped: skipped) { |peer, round| run_once(kase, set, peer, round) }
      # The Ruby API's primary number: the `download_all` call inside the same processes.
      if (ruby = entries.find { |e| e["id"] == "wow-ruby" })
        call_runs = ruby["runs"].map { |r| r.merge("wall" => r["call_s"], "ok" => r["ok"] && !r["call_s"].nil?) }
        entries.insert(entries.index(ruby), { "id" => "wow-call", "label" => "wow-fetch, Ruby API (the call)",
                                              "runs" => call_runs, "skipped" => ruby["skipped"], "in_process" => true })
      end
      inproc = wow_ok && kase.id == "rails-100" && peers.any? { |p| p.id == "wow-ruby" } ? inproc(set) : nil
      relay = wan_stop
      limit = kase.wire_limit(set.bytes)
      case_facts(kase, set, load_before, check, relay).merge(
        "peers" => entries.map { |e| e.merge(Report.summary(e["runs"], limit, set.bytes)) },
        "inproc" => inproc,
      )
    end

    # wow-fetch's targets that only show inside one process: warm cache and the cost of a block.
    def inproc(set)
      home = fresh_dir("inproc")
      items = File.join(home, "items.txt")
      File.write(items, set.items.map { |i| "#{i.full_name} #{i.sha256}\n" }.join)
      result = File.join(home, "result.json")
      env = Run.new(set: set, home: home, out: home, app: home, ca: ca, source: set.source, root: ROOT).env
      log = log_path("inproc-#{set.id}")
      system("ip", "netns", "exec", CLIENT_NS, "timeout", "600", "env", "-i", *env.map { |k, v| "#{k}=#{v}" },
             "/usr/bin/ruby", "-I", File.join(ROOT, "lib"), File.join(ROOT, "bench/lib/inproc.rb"), items,
             set.source, File.join(home, "work"), result, @opts[:runs].to_s, %i[out err] => [log, "w"])
      unless File.exist?(result)
        self.class.log "  in-process measurements failed; see #{log}"
        return nil
      end
      data = JSON.parse(File.read(result))
      self.class.log format("  in-process: block overhead %+.1f%%, warm %.1f ms (sha256sum %.1f ms)",
                            data["block_overhead"] * 100, Report.median(data["warm_s"]) * 1e3,
                            Report.median(data["sha256sum_s"]) * 1e3)
      data
    end

    # The emulator's own check: connect ≈ 1 RTT, a 10 MiB stream ≈ slow-start model. One retry,
    # since a neighbour's compile can disturb a single measurement on a 2-core machine.
    def self_check
      lines = nil
      2.times do
        lines = IO.popen([WAN, "check"], err: %i[child out], &:readlines).map(&:strip)
        break if $?.success?
      end
      lines.each { |l| self.class.log "  #{l}" }
      lines
    end

    # COMMAND once in the client namespace under timed.rb, with the relay's counters around it:
    # TCP SYNs, packets, bytes and drops each way. `error` says why a run does not count.
    def measured(name, argv, env, dir)
      before = wan_stats
      timeout = [@opts[:timeout], 60].max
      log = log_path(name)
      r = timed(argv, env, dir, timeout: timeout, log: log)
      after = wan_stats
      if before && after
        r["syns"] = after.dig("c2s", "syns") - before.dig("c2s", "syns")
        %w[packets bytes drops].each do |k|
          r["c2s_#{k}"] = after.dig("c2s", k) - before.dig("c2s", k)
          r["s2c_#{k}"] = after.dig("s2c", k) - before.dig("s2c", k)
        end
      end
      r["log"] = log
      r["error"] = if r["timed_out"] then "timed out after #{timeout} s"
                   elsif r["exit"] != 0 then "exit #{r["exit"].inspect}; see #{log}"
                   end
      r
    end

    def run_once(kase, set, peer, round)
      home = fresh_dir("home")
      out = fresh_dir("out")
      run = Run.new(set: set, home: home, out: out, app: File.join(home, "app"), ca: ca, source: set.source, root: ROOT)
      cmd = peer.command(run)
      FileUtils.mkdir_p(cmd[:out])
      r = measured("#{kase.id}-#{peer.id}-#{round + 1}", cmd[:argv], cmd[:env], cmd[:dir])
      r["round"] = round + 1
      r["error"] ||= verify(set, cmd[:out])
      if cmd[:times]
        # "require=S call=S" from bench/lib/wow_call.rb
        times = File.exist?(cmd[:times]) ? File.read(cmd[:times]).scan(/(\w+)=([\d.]+)/).to_h : {}
        r["call_s"] = times["call"]&.to_f
        r["require_s"] = times["require"]&.to_f
      end
      r["ok"] = r["error"].nil?
      sleep 0.3 # let FINs and TIME_WAIT traffic clear the relay before the next cold run
      r
    end

    # Every locked gem present, whole and byte-identical; nothing else judged.
    def verify(set, dir)
      bad = set.items.reject do |i|
        path = File.join(dir, i.file)
        File.size?(path) == i.size && Digest::SHA256.file(path).hexdigest == i.sha256
      end
      bad.empty? ? nil : "#{bad.size} of #{set.items.size} gems missing or wrong (#{bad.first.file}…)"
    end

    def machine
      cpu = File.read("/proc/cpuinfo")[/model name\s*:\s*(.+)/, 1]
      mem = File.read("/proc/meminfo")[/MemTotal:\s*(\d+)/, 1].to_i / 1024 / 1024
      version = ->(*cmd) { IO.popen(cmd, err: %i[child out], &:read).lines.first.to_s.strip rescue "?" } # rubocop:disable Style/RescueModifier
      cc = IO.popen(["ip", "netns", "exec", CLIENT_NS, "sysctl", "-n", "net.ipv4.tcp_congestion_control"], err: File::NULL, &:read).strip rescue "?" # rubocop:disable Style/RescueModifier
      {
        "cpu" => cpu, "cores" => Etc.nprocessors, "memory_gib" => mem, "kernel" => `uname -r`.strip,
        "tcp_congestion_control" => cc.empty? ? File.read("/proc/sys/net/ipv4/tcp_congestion_control").strip : cc,
        "ruby" => RUBY_DESCRIPTION, "rubygems" => version.call("gem", "--version"),
        "bundler" => version.call("bundle", "--version") + " (the peers run `#{Peers::BUNDLE.join(" ")}`)", "curl" => version.call("curl", "--version"),
        "aria2c" => version.call("aria2c", "--version"), "nginx" => version.call("nginx", "-v"),
        "typhoeus" => version.call("ruby", "-rtyphoeus", "-e", "print Typhoeus::VERSION"),
      }
    end
  end

  def self.main(argv)
    options = { runs: 5, startup_runs: 20, work: ENV.fetch("WOW_BENCH_WORK", "/var/tmp/wow-bench"),
                out: File.join(ROOT, "bench/results"), budget: 100, timeout: 600, quiet_wait: 30, quiet_load: 1.5 }
    OptionParser.new do |o|
      o.banner = "usage: bench/run [options]"
      o.on("--runs N", Integer, "cold runs per tool and case (default 5)") { |v| options[:runs] = v }
      o.on("--startup-runs N", Integer, "runs per command in the startup case (default 20)") { |v| options[:startup_runs] = v }
      o.on("--cases LIST", Array, "#{Bench::CASES.map(&:id).join(",")} (default all)") { |v| options[:cases] = v }
      o.on("--peers LIST", Array, "tools by id, `prefix*` for a prefix (default all); download cases: " \
                                  "#{Peers.all(ROOT).map(&:id).join(",")}, aria2c-best (cases where it is not -j 16) and sweep settings curl-N, aria2c-jN, aria2c-jN-xM; " \
                                  "startup: #{Startup::IDS.join(",")}; bundle cases: bundle-CELL-VARIANT " \
                                  "(CELL #{BundleBench::CELLS.map(&:id).join("/")}, VARIANT #{BundleBench::VARIANTS.join("/")}). " \
                                  "A case none of whose tools is chosen is left out.") { |v| options[:peers] = v }
      o.on("--budget S", Float, "after S seconds of runs a tool gets no more rounds in a case (default 100)") { |v| options[:budget] = v }
      o.on("--timeout S", Float, "kill a run after S seconds (default 600)") { |v| options[:timeout] = v }
      o.on("--quiet-wait S", Float, "wait up to S s for the load average to fall before a case (default 30)") { |v| options[:quiet_wait] = v }
      o.on("--work DIR", "fixtures, mirror and scratch (default /var/tmp/wow-bench)") { |v| options[:work] = v }
      o.on("--out DIR", "where latest.{md,svg,json} go (default bench/results)") { |v| options[:out] = v }
      o.on("--serve CASE", "bring up one case's WAN and mirror, print how to reach it, wait for Ctrl-C") { |v| options[:serve] = v }
    end.parse!(argv)
    bench = Bench.new(options.merge(cases: [options[:serve]].compact.then { |c| c.empty? ? options[:cases] : c }))
    options[:serve] ? bench.serve : bench.run
  end
end

WowBench.main(ARGV) if $PROGRAM_NAME == __FILE__

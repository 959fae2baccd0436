# frozen_string_literal: true

# Turns bench results (latest.json) into the Markdown tables (a targets table from issue 18,
# then one section per case: downloads, start-up, `bundle install`) and the SVG chart of the
# download cases, with no dependency beyond Ruby's standard library.
#
# usage: ruby bench/lib/report.rb bench/results/latest.json   (rewrites latest.md and .svg)

require "json"

module WowBench
  module Report
    module_function

    def median(values)
      return nil if values.empty?

      s = values.sort
      s.size.odd? ? s[s.size / 2] : (s[s.size / 2 - 1] + s[s.size / 2]) / 2.0
    end

    WIRE_FACTOR = 1.038

    # Per tool and case: over the runs that completed and verified. `limit` (the wire limit)
    # and `bytes` may be nil (start-up).
    def summary(runs, limit, bytes)
      ok = runs.select { |r| r["ok"] }
      walls = ok.map { |r| r["wall"] }
      cpu = ok.map { |r| r["cpu_user"].to_f + r["cpu_sys"].to_f }
      med = median(walls)
      {
        "runs_ok" => ok.size, "runs_total" => runs.size,
        "median_s" => med, "min_s" => walls.min, "ratio" => med && limit && med / limit,
        "connections" => median(ok.map { |r| r["syns"] }.compact),
        "peak_rss_mb" => ok.map { |r| r["rss_kb"].to_i }.max&./(1024.0),
        "cpu_s" => median(cpu), "cpu_s_per_gb" => (c = median(cpu)) && bytes && c / (bytes / 1e9),
        "drops" => median(ok.map { |r| r["s2c_drops"].to_i + r["c2s_drops"].to_i }),
        "from_mirror_mb" => median(ok.map { |r| r["s2c_bytes"] }.compact)&./(1e6),
        "errors" => runs.reject { |r| r["ok"] }.map { |r| r["error"] }.compact.uniq.first(3),
      }
    end

    def f(value, digits = 2)
      value.nil? ? "–" : format("%.#{digits}f", value)
    end

    def ms(value) = value.nil? ? "–" : format("%.1f", value * 1e3)

    # [payload limit, wire limit] of a case; results written before both were recorded had
    # only the payload limit, as limit_s.
    def limits(c)
      return [c["payload_limit_s"], c["limit_s"]] if c["payload_limit_s"]

      payload = c["limit_s"]
      [payload, payload && payload + (WIRE_FACTOR - 1) * c["bytes"] * 8.0 / (c["rate_mbit"] * 1e6)]
    end

    def kind(c) = c["kind"] || "download"

    def peer(c, id) = c["peers"].find { |p| p["id"] == id && p["median_s"] }

    WOW = /\Awow-/

    # The fastest tool that is not wow-fetch (each peer at its 16 and its best setting).
    def best_peer(c)
      c["peers"].reject { |p| p["id"].match?(WOW) || p["median_s"].nil? }.min_by { |p| p["median_s"] }
    end

    def markdown(results)
      m = results["machine"]
      out = []
      out << "# wow-fetch benchmark"
      out << ""
      opts = results["options"] || {}
      smoke = opts["runs"] && opts["runs"] < 5
      out << "**Smoke run (#{opts["runs"]} run#{opts["runs"] == 1 ? "" : "s"} per tool): not a measurement.**" if smoke
      out << "" if smoke
      out << "Run #{results["started"]} – #{results["finished"]} by `bench/run`" +
             (opts["cases"] || opts["peers"] ? " (#{[opts["cases"] && "cases #{opts["cases"].join(",")}", opts["peers"] && "tools #{opts["peers"].join(",")}"].compact.join("; ")})" : "") +
             ". Cold runs: empty destination, HOME, gem, Bundler and wow-fetch caches every time. Times are wall " \
             "clock from spawn to exit, except the row \"wow-fetch, Ruby API (the call)\", which is the " \
             "`download_all` call timed inside the same processes as the row \"(whole process)\"; peak RSS " \
             "from wait4; connections are TCP SYNs counted by the emulator."
      out << ""
      out << "Limits: the **payload limit** is the files' bytes ÷ rate + 3 RTT (connect, TLS 1.3, request); the " \
             "**wire limit** counts the bytes on the wire, #{WIRE_FACTOR}× the files' bytes (1500-byte packets carry " \
             "1448 bytes of payload with TCP timestamps, plus ≈0.2% of TLS records and HTTP/2 frames), + 3 RTT. " \
             "\"× limit\" is against the wire limit."
      out << ""
      out << "Machine: #{m["cpu"]}, #{m["cores"]} cores, #{m["memory_gib"]} GiB, Linux #{m["kernel"]}, " \
             "TCP congestion control #{m["tcp_congestion_control"]}. #{m["ruby"]}; RubyGems #{m["rubygems"]}; " \
             "`bundle` is #{m["bundler"]}; Typhoeus #{m["typhoeus"]}; #{m["curl"]&.split("(")&.first&.strip}; #{m["aria2c"]}; #{m["nginx"]}."
      out << ""
      out << "Network: `wow-wan` (crates/wan), a userspace relay between two network namespaces over TUN " \
             "devices: one-way delay of half the RTT, the bottleneck rate in each direction, a drop-tail queue " \
             "of 100 ms of that rate, real kernel TCP at both ends. Mirror: nginx, HTTPS, HTTP/2, compact and " \
             "legacy indexes."
      targets = targets(results)
      unless targets.empty?
        out << ""
        out << "## Targets (issue 18)"
        out << ""
        out << "| target | measured | status |"
        out << "|---|---|---|"
        targets.each { |t| out << "| #{t[:target]} | #{t[:measured]} | #{t[:status]} |" }
      end
      results["cases"].each do |c|
        out << ""
        case kind(c)
        when "startup" then out.concat(startup_md(c))
        when "bundle" then out.concat(bundle_md(c))
        else out.concat(download_md(c))
        end
        out << ""
        out << "Emulator self-check: " + c["self_check"].map { |l| l.sub(/\.$/, "") }.join("; ") + "." if c["self_check"]
        out << "Relay totals for the case: #{c["relay_totals"].join("; ")}." if c["relay_totals"]&.any?
        out << "Load average (1 min) before / after: #{c["load_before"]} / #{c["load_after"]}."
        out << "Note: #{c["note"]}." if c["note"]
      end
      out << ""
      out.join("\n")
    end

    def runs_cell(p)
      errors = p["errors"].to_a
      "#{p["runs_ok"]}/#{p["runs_total"]}" + (errors.empty? || p["runs_ok"] == p["runs_total"] ? "" : " (#{errors.first})")
    end

    def download_md(c)
      payload, wire = limits(c)
      out = []
      out << "## #{c["id"]}: #{c["gems"]} gems, #{f(c["bytes"] / 1e6, 1)} MB, RTT #{c["rtt_ms"]} ms, " \
             "#{c["rate_mbit"]} Mbit/s — wire limit #{f(wire)} s (payload limit #{f(payload)} s)"
      out << ""
      out << "| tool | median s | min s | × wire limit #{f(wire)} s | × payload limit #{f(payload)} s | connections | peak RSS MB | CPU s | CPU s/GB | runs |"
      out << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      c["peers"].sort_by { |p| p["median_s"] || Float::INFINITY }.each do |p|
        label = p["id"].match?(WOW) ? "**#{p["label"]}**" : p["label"]
        if p["skipped"]
          out << "| #{label} | #{p["skipped"]} | | | | | | | | |"
          next
        end
        cpu = p["in_process"] ? "(same runs)" : f(p["cpu_s"])
        out << "| #{label} | #{f(p["median_s"])} | #{f(p["min_s"])} | #{f(p["median_s"] && wire && p["median_s"] / wire)}× | " \
               "#{f(p["median_s"] && payload && p["median_s"] / payload)}× | " \
               "#{f(p["connections"], 0)} | #{f(p["peak_rss_mb"], 0)} | #{cpu} | " \
               "#{p["in_process"] ? "" : f(p["cpu_s_per_gb"], 1)} | #{runs_cell(p)} |"
      end
      if (best = best_peer(c))
        out << ""
        parts = { "wow-call" => "the call", "wow-ruby" => "Ruby API whole process", "wow-cli" => "CLI" }.filter_map do |id, name|
          p = peer(c, id) or next
          format("%s %.2f s (%+.0f%%)", name, p["median_s"], (p["median_s"] / best["median_s"] - 1) * 100)
        end
        out << "**Best peer: #{best["label"]}, #{f(best["median_s"])} s.**" +
               (parts.empty? ? "" : " wow-fetch against it: #{parts.join(", ")}.")
      end
      if (ip = c["inproc"])
        msm = ->(a) { ms(median(a)) }
        out << ""
        out << "wow-fetch in one process, timed around `download_all` (bench/lib/inproc.rb, median of #{ip["warm_s"].size}):"
        out << ""
        out << "| measurement | ms |"
        out << "|---|---:|"
        out << "| cold, no block | #{msm.(ip["cold_no_block_s"])} |"
        out << "| cold, block receiving all #{ip["events_per_run"]} events | #{msm.(ip["cold_block_s"])} " \
               "(#{format("%+.1f", ip["block_overhead"] * 100)}%) |"
        out << "| warm cache, #{ip["cached_files"]} gems verified | #{msm.(ip["warm_s"])} |"
        out << "| `sha256sum` of the same files | #{msm.(ip["sha256sum_s"])} |"
      end
      out
    end

    def startup_md(c)
      out = []
      out << "## #{c["id"]}: start-up, whole processes, median of #{c["peers"].map { |p| p["runs_total"] }.max} runs (RTT #{c["rtt_ms"]} ms for the warm rows)"
      out << ""
      out << "\"ours\" = the median − the median of `ruby -e 1` (#{ms(c["ruby_e1_s"])} ms): what wow-fetch adds to any Ruby program's start. " \
             "The warm rows use the #{c["set"]} set's lockfile (#{c["gems"]} gems) with every gem already in the cache."
      out << ""
      out << "| command | median ms | min ms | ours ms | peak RSS MB | connections | runs |"
      out << "|---|---:|---:|---:|---:|---:|---:|"
      c["peers"].each do |p|
        if p["skipped"]
          out << "| #{p["label"]} | #{p["skipped"]} | | | | | |"
          next
        end
        ours = p["id"] == "ruby-e1" ? "" : ms(p["ours_s"])
        out << "| #{p["label"]} | #{ms(p["median_s"])} | #{ms(p["min_s"])} | #{ours} | #{f(p["peak_rss_mb"], 0)} | " \
               "#{f(p["connections"], 0)} | #{runs_cell(p)} |"
      end
      out
    end

    def bundle_md(c)
      payload, wire = limits(c)
      out = []
      out << "## #{c["id"]}: `bundle install` of the #{c["set"]} set, #{c["gems"]} gems, #{f(c["bytes"] / 1e6, 1)} MB, " \
             "RTT #{c["rtt_ms"]} ms, #{c["rate_mbit"]} Mbit/s (wire limit of the gems alone #{f(wire)} s)"
      out << ""
      out << "Whole processes, cold. plain: `bundle install`; plugin: the same with `plugin \"wow-fetch\", path:` in the " \
             "Gemfile; floor: plain with every .gem already in the cache this Bundler reads (same index fetches and " \
             "installs, no gem downloads). Target: plugin ≤ 1.15× floor."
      out << ""
      out << "| Bundler | Ruby | plain s | plugin s | floor s | plugin ÷ floor | plain ÷ plugin | MB from mirror (plain / plugin / floor) | peak RSS MB (plugin) | runs (plain / plugin / floor) |"
      out << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
      (c["cells"] || {}).each do |id, cell|
        v = %w[plain plugin floor].to_h { |variant| [variant, c["peers"].find { |p| p["cell"] == id && p["variant"] == variant }] }
        med = ->(variant) { v[variant]&.dig("median_s") }
        if cell["problem"]
          out << "| #{cell["version"]} | #{cell["ruby"]} | cannot run: #{cell["problem"].gsub("|", "\\|").gsub("\n", " ")} | | | | | | | |"
          next
        end
        ratio = med.("plugin") && med.("floor") && med.("plugin") / med.("floor")
        speedup = med.("plain") && med.("plugin") && med.("plain") / med.("plugin")
        mb = %w[plain plugin floor].map { |x| f(v[x]&.dig("from_mirror_mb"), 1) }.join(" / ")
        runs = %w[plain plugin floor].map { |x| v[x] ? runs_cell(v[x]) : "–" }.join(" / ")
        out << "| #{cell["bundler"] || cell["version"]} | #{cell["ruby_v"].to_s[/\Aruby \S+/]} (#{cell["ruby"]}) | #{f(med.("plain"))} | " \
               "#{f(med.("plugin"))} | #{f(med.("floor"))} | #{f(ratio)}× | #{f(speedup)}× | #{mb} | " \
               "#{f(v["plugin"]&.dig("peak_rss_mb"), 0)} | #{runs} |"
      end
      notes = (c["cells"] || {}).filter_map do |id, cell|
        next if cell["problem"] || cell["gem_cache"].nil?

        "#{cell["bundler"] || cell["version"]} (#{cell["ruby_v"].to_s[/\Aruby \S+/]}) caches .gem files in " +
          cell["gem_cache"].map { |d| "`HOME/#{d}`" }.join(" and ")
      end
      unless notes.empty?
        out << ""
        out << "Where each Bundler read the floor's files from (learnt from an untimed plain install): #{notes.join("; ")}."
      end
      pins = (c["cells"] || {}).filter_map do |_, cell|
        next if cell["pins"].nil? || cell["pins"].empty?

        "Bundler #{cell["version"]} (#{cell["ruby_v"].to_s[/\Aruby \S+/]}): #{cell["pins"].map { |n, v| "#{n} #{v}" }.join(", ")}"
      end
      unless pins.empty?
        out << ""
        out << "Pinned in that cell's Gemfile to the set's versions, because that Ruby ships newer ones (default or " \
               "bundled gems) which the lock would take instead, versions the mirror does not have (stringio then " \
               "gets an empty CHECKSUMS entry and a frozen install refuses to run): #{pins.join("; ")}."
      end
      plugin_lines = c["peers"].select { |p| p["variant"] == "plugin" }.filter_map do |p|
        line = p["runs"].filter_map { |r| r["plugin_lines"]&.first }.first
        line && "#{p["label"].split(":").first}: `#{line}`"
      end
      unless plugin_lines.empty?
        out << ""
        out << "The plugin's own line, one run each: #{plugin_lines.join("; ")}."
      end
      out
    end

    # Issue 18's targets, each against what this run measured (nil rows: case not run).
    def targets(results)
      by_id = results["cases"].to_h { |c| [c["id"], c] }
      rows = []
      add = lambda do |target, value, limit, measured|
        rows << { target: target, measured: measured,
                  status: value.nil? || limit.nil? ? "not measured" : (value <= limit ? "**holds**" : "**missed**") }
      end
      ratio_target = lambda do |cid, id, max, what|
        c = by_id[cid] or next
        p = peer(c, id)
        _, wire = limits(c)
        add.call("#{cid}: #{what} ≤ #{max}× wire limit (#{f(wire * max)} s)", p&.dig("median_s") && p["median_s"] / wire, max,
                 p ? "#{f(p["median_s"])} s (#{f(p["median_s"] / wire)}×)" : "–")
      end
      ratio_target.call("rails-100", "wow-call", 1.03, "the call")
      if (c = by_id["rails-100"])
        best = best_peer(c)
        p = peer(c, "wow-cli")
        add.call("rails-100: CLI ≤ best peer#{best ? " (#{best["label"]}, #{f(best["median_s"])} s)" : ""}",
                 p&.dig("median_s"), best&.dig("median_s"), p ? "#{f(p["median_s"])} s" : "–")
      end
      if (c = by_id["rails-1g"])
        best = best_peer(c)
        p = peer(c, "wow-call")
        add.call("rails-1g: the call ≥ 25% ahead of the best peer, ≤ 0.75× #{best ? "#{best["label"]} #{f(best["median_s"])} s = #{f(best["median_s"] * 0.75)} s" : "it"}",
                 p&.dig("median_s"), best && best["median_s"] * 0.75,
                 p ? "#{f(p["median_s"])} s (#{best ? format("%+.0f%%", (p["median_s"] / best["median_s"] - 1) * 100) : "?"})" : "–")
        p = peer(c, "wow-cli")
        add.call("rails-1g: CLI ≤ 0.80 s", p&.dig("median_s"), 0.80, p ? "#{f(p["median_s"])} s" : "–")
      end
      ratio_target.call("small-100", "wow-call", 1.3, "the call")
      ratio_target.call("small-100", "wow-cli", 1.4, "CLI")
      ratio_target.call("big-1g", "wow-call", 1.5, "the call")
      ratio_target.call("big-1g", "wow-cli", 1.5, "CLI")
      if (c = by_id["startup"])
        p = peer(c, "cli-warm")
        add.call("startup: warm cache, CLI with `--lockfile` ≤ 100 ms", p&.dig("median_s"), 0.100,
                 p ? "#{ms(p["median_s"])} ms (ours #{ms(p["ours_s"])} ms)" : "–")
      end
      %w[bundle-100 bundle-1g].each do |cid|
        c = by_id[cid] or next
        (c["cells"] || {}).each do |id, cell|
          plugin = c["peers"].find { |p| p["cell"] == id && p["variant"] == "plugin" }&.dig("median_s")
          floor = c["peers"].find { |p| p["cell"] == id && p["variant"] == "floor" }&.dig("median_s")
          measured = cell["problem"] ? "cannot run: #{cell["problem"].gsub("|", "\\|")}" : "#{f(plugin)} s ÷ #{f(floor)} s = #{f(plugin && floor && plugin / floor)}×"
          target = "#{cid}: `bundle install` with the plugin ≤ 1.15× floor, Bundler #{cell["version"]}" +
                   (cid == "bundle-1g" ? " (reported; the issue's target is at 100 Mbit/s)" : "")
          add.call(target, plugin && floor && plugin / floor, 1.15, measured)
        end
      end
      wow_rss = results["cases"].flat_map do |c|
        c["peers"].select { |p| !p["in_process"] && (p["id"].match?(WOW) || (kind(c) == "startup" && p["id"] != "ruby-e1")) && p["peak_rss_mb"] }
                  .map { |p| [p["peak_rss_mb"], "#{c["id"]} #{p["id"]}"] }
      end
      unless wow_rss.empty?
        worst = wow_rss.max_by(&:first)
        add.call("peak RSS < 50 MB in every case (wow-fetch's own processes; `bundle install` rows are Bundler's)",
                 worst.first, 49.999, "at most #{f(worst.first, 1)} MB (#{worst.last})")
      end
      if (ip = by_id["rails-100"]&.dig("inproc"))
        add.call("warm verified cache < 50 ms (#{ip["cached_files"]} gems, in-process)", median(ip["warm_s"]), 0.04999,
                 "#{ms(median(ip["warm_s"]))} ms")
        add.call("a block receiving every event < 5% overhead", ip["block_overhead"], 0.04999,
                 format("%+.1f%%", ip["block_overhead"] * 100))
      end
      rows
    end

    COLORS = { "wow" => "#d1495b", "curl" => "#00798c", "aria2c" => "#30638e", "typhoeus" => "#edae49",
               "bundle" => "#66a182", "gem" => "#8d96a3" }.freeze

    def color(id)
      COLORS.find { |k, _| id.start_with?(k) }&.last || "#555555"
    end

    def esc(text) = text.to_s.gsub("&", "&amp;").gsub("<", "&lt;").gsub(">", "&gt;")

    # One panel per case: a bar per tool at its median, a tick at its min, a dashed line at the
    # physical limit. Log scale, since `gem fetch` and curl differ by an order of magnitude.
    def svg(results)
      width = 960
      label_w = 330
      plot_w = width - label_w - 90
      row = 20
      y = 40
      parts = []
      cases = results["cases"].select { |c| kind(c) == "download" && c["peers"].any? { |p| p["median_s"] } }
      if cases.empty?
        return %(<svg xmlns="http://www.w3.org/2000/svg" width="480" height="40" font-family="sans-serif" font-size="12">) +
               %(<text x="10" y="24">No download case in this run.</text></svg>\n)
      end
      all = cases.flat_map { |c| c["peers"].map { |p| p["median_s"] } + limits(c) }.compact
      lo = 10.0**Math.log10(all.min).floor
      hi = 10.0**Math.log10(all.max).ceil
      x = ->(s) { label_w + plot_w * (Math.log10(s) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) }
      cases.each do |c|
        _, wire = limits(c)
        peers = c["peers"].reject { |p| p["median_s"].nil? }.sort_by { |p| p["median_s"] }
        parts << %(<text x="10" y="#{y}" font-weight="bold">#{esc(c["id"])}: #{c["gems"]} gems, ) +
                 %(#{f(c["bytes"] / 1e6, 1)} MB, RTT #{c["rtt_ms"]} ms, #{c["rate_mbit"]} Mbit/s</text>)
        y += 10
        top = y
        peers.each do |p|
          parts << %(<text x="#{label_w - 8}" y="#{y + 14}" text-anchor="end">#{esc(p["label"])}</text>)
          parts << %(<rect x="#{label_w}" y="#{y + 3}" width="#{(x.call(p["median_s"]) - label_w).round(1)}" ) +
                   %(height="#{row - 6}" fill="#{color(p["id"])}"/>)
          mx = x.call(p["min_s"]).round(1)
          parts << %(<line x1="#{mx}" x2="#{mx}" y1="#{y + 1}" y2="#{y + row - 1}" stroke="#222"/>)
          parts << %(<text x="#{(x.call(p["median_s"]) + 6).round(1)}" y="#{y + 14}">#{f(p["median_s"])} s ) +
                   %((#{f(p["ratio"])}×)</text>)
          y += row
        end
        lx = x.call(wire).round(1)
        parts << %(<line x1="#{lx}" x2="#{lx}" y1="#{top}" y2="#{y}" stroke="#000" stroke-dasharray="4 3"/>)
        parts << %(<text x="#{lx}" y="#{y + 12}" text-anchor="middle" font-size="11">wire limit #{f(wire)} s</text>)
        y += 36
      end
      ticks = []
      t = lo
      while t <= hi
        [1, 2, 5].each do |m|
          v = t * m
          ticks << v if v >= lo && v <= hi
        end
        t *= 10
      end
      axis = ticks.map do |v|
        %(<line x1="#{x.call(v).round(1)}" x2="#{x.call(v).round(1)}" y1="30" y2="#{y - 20}" stroke="#ddd"/>) +
          %(<text x="#{x.call(v).round(1)}" y="#{y}" text-anchor="middle" font-size="11">#{format("%g", v.round(3))} s</text>)
      end
      <<~SVG
        <svg xmlns="http://www.w3.org/2000/svg" width="#{width}" height="#{y + 20}" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="10" y="18" font-size="14" font-weight="bold">Cold download time, median of runs (tick: min), log scale; dashed: wire limit</text>
        #{axis.join("\n")}
        #{parts.join("\n")}
        </svg>
      SVG
    end
  end
end

if $PROGRAM_NAME == __FILE__
  path = ARGV.fetch(0) { abort "usage: ruby bench/lib/report.rb latest.json" }
  results = JSON.parse(File.read(path))
  File.write(path.sub(/\.json\z/, ".md"), WowBench::Report.markdown(results))
  File.write(path.sub(/\.json\z/, ".svg"), WowBench::Report.svg(results))
end

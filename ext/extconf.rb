# frozen_string_literal: true

# Builds wow/fetch/wow_fetch.so with cargo, in release mode. With the rb_sys gem installed its
# create_rust_makefile does the work; without it (rb_sys is not packaged for Debian) this file
# writes a Makefile with the targets `gem install` runs: clean, all, install.

require "rbconfig"

ROOT = File.expand_path("..", __dir__)

# The repository's Cargo workspace also holds crates only its tests and benchmarks use
# (crates/mirror, crates/wan); the gem ships without them, and cargo refuses a workspace whose
# members or path dependencies are missing. So in an unpacked gem the manifests are trimmed, in
# place, to the crates that are present: the gem's own copy is ours to edit, and a checkout with
# every crate is left untouched.
module WorkspaceTrim
  module_function

  def run(root)
    manifest = File.join(root, "Cargo.toml")
    text = File.read(manifest)
    missing = missing_path_crates(root, text)
    members = array(text, "members")
    present = members.select { |member| File.exist?(File.join(root, member, "Cargo.toml")) }
    return if missing.empty? && present == members

    text = text.sub(/^members\s*=\s*\[[^\]]*\]/m) { "members = #{present.inspect}" }
               .sub(/^default-members\s*=\s*\[[^\]]*\]\n?/m, "")
    text = drop_dependency_lines(text, missing)
    File.write(manifest, text)
    present.each do |member|
      path = File.join(root, member, "Cargo.toml")
      File.write(path, drop_dependency_lines(File.read(path), missing))
    end
  end

  # Names in [workspace.dependencies] whose `path` is not in this tree.
  def missing_path_crates(root, text)
    text.scan(/^([A-Za-z0-9_-]+)\s*=\s*\{[^}\n]*\bpath\s*=\s*"([^"]+)"/).filter_map do |name, path|
      name unless File.exist?(File.join(root, path, "Cargo.toml"))
    end
  end

  def array(text, key)
    body = text[/^#{key}\s*=\s*\[([^\]]*)\]/m, 1].to_s
    body.scan(/"([^"]+)"/).flatten
  end

  # Removes `name = ...` and `name.workspace = true` lines for each of `names`.
  def drop_dependency_lines(text, names)
    names.reduce(text) { |acc, name| acc.gsub(/^#{Regexp.escape(name)}(\.workspace)?\s*=.*\n/, "") }
  end
end

WorkspaceTrim.run(ROOT)

begin
  require "rb_sys/mkmf"
  create_rust_makefile("wow/fetch/wow_fetch")
rescue LoadError
  # `gem install` points sitearchdir at its staging directory through RbConfig (its siteconf);
  # $(DESTDIR) and $(RUBYARCHDIR) work as in any mkmf Makefile.
  target_dir = ENV["CARGO_TARGET_DIR"] || File.join(__dir__, "target")
  so_ext = RbConfig::CONFIG["SOEXT"]
  dl_ext = RbConfig::CONFIG["DLEXT"]
  File.write("Makefile", <<~MAKE)
    # Written by ext/extconf.rb: builds wow_fetch.#{dl_ext} with cargo (rb_sys is not installed).
    SHELL = /bin/sh
    CARGO ?= cargo
    srcdir = #{__dir__}
    sitearchdir = #{RbConfig::CONFIG["sitearchdir"]}
    target_prefix =
    RUBYARCHDIR = $(DESTDIR)$(sitearchdir)$(target_prefix)
    CARGO_TARGET_DIR = #{target_dir}
    DLLIB = wow_fetch.#{dl_ext}
    CARGO_LIB = $(CARGO_TARGET_DIR)/release/libwow_fetch.#{so_ext}

    all: $(DLLIB)

    $(DLLIB): FORCE
    \t$(CARGO) build --release --manifest-path "$(srcdir)/Cargo.toml" --target-dir "$(CARGO_TARGET_DIR)"
    \tcp "$(CARGO_LIB)" $(DLLIB)

    install: all
    \tmkdir -p "$(RUBYARCHDIR)/wow/fetch"
    \tcp $(DLLIB) "$(RUBYARCHDIR)/wow/fetch/$(DLLIB)"
    #{"\t# cargo's build tree is hundreds of megabytes; an installed gem keeps only the library.\n\trm -rf \"$(CARGO_TARGET_DIR)\"" unless ENV["CARGO_TARGET_DIR"]}

    clean:
    \trm -f $(DLLIB)

    .PHONY: all install clean FORCE
  MAKE
end

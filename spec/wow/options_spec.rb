# frozen_string_literal: true

# The options are declared once, in the table of crates/core/src/settings.rs, which the
# extension exposes as Wow::Fetcher::OPTIONS. Their documentation is written by hand in three
# places; each must name exactly those options, in the table's order. (Their defaults are held
# to the table by a unit test in settings.rs.)
RSpec.describe "Wow::Fetcher::OPTIONS" do
  def read(path)
    File.read(File.join(WowSpec::ROOT, path))
  end

  # The lines of `text` from the one matching `from` up to the next matching `to`.
  def section(text, from, to)
    lines = text.lines
    first = lines.index { |line| line.match?(from) } or raise "no line matching #{from.inspect}"
    last = lines[(first + 1)..].index { |line| line.match?(to) } or raise "no line matching #{to.inspect}"
    lines[first, last + 1].join
  end

  let(:options) { Wow::Fetcher::OPTIONS }

  it "names every option once, as frozen Symbols" do
    expect(options).to all(be_a(Symbol))
    expect(options).to include(:dest, :concurrency, :headers, :resolve)
    expect(options.uniq).to eq(options)
    expect(options).to be_frozen
  end

  it "names exactly the keywords Wow::Fetcher.new takes" do
    options.each do |name|
      expect { Wow::Fetcher.new(name => nil) }.not_to raise_error
    end
    expect { Wow::Fetcher.new(not_an_option: nil) }.to raise_error(ArgumentError, "unknown option: :not_an_option")
  end

  it "are the options in the YARD list of lib/wow/fetcher.rb" do
    list = section(read("lib/wow/fetcher.rb"), /^\s*#\s+Options, with their defaults/, /^\s*#\s*$/)
    documented = list.scan(/^\s*#\s+- \+(\w+):\+ \[/).flatten.map(&:to_sym)
    expect(documented).to eq(options)
  end

  it "are the rows of README.md's options table" do
    table = section(read("README.md"), /^### Options$/, /^### /)
    documented = table.scan(/^\| `(\w+):` \|/).flatten.map(&:to_sym)
    expect(documented).to eq(options)
  end

  it "are the keywords of initialize in sig/wow/fetch.rbs" do
    keywords = read("sig/wow/fetch.rbs")[/^\s*def initialize: \((.*?)\) -> void$/m, 1]
    documented = keywords.scan(/\?(\w+):/).flatten.map(&:to_sym)
    expect(documented).to eq(options)
  end
end

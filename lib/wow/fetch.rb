# frozen_string_literal: true

# wow-fetch: many .gem files at once over one pooled HTTP/2 client, each streamed to disk,
# verified and published atomically. See Wow::Fetcher.

require_relative "fetch/version"
require_relative "fetcher/error"
require_relative "fetcher/result"
require_relative "fetcher/event"

# The compiled extension: a build for this Ruby's minor version first (as a precompiled gem
# would ship it), else the one `gem install` or `rake compile` built.
begin
  require "wow/fetch/#{RUBY_VERSION[/\d+\.\d+/]}/wow_fetch"
rescue LoadError
  require "wow/fetch/wow_fetch"
end

require_relative "fetcher"

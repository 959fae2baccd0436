# frozen_string_literal: true

module Wow
  module Fetch
    VERSION = "0.1.0"
  end
end

"""The output formats, by the file suffix `gen build` gives them."""

from generator.kickstart import render_kickstart

CARRIERS = {
    ".ks": render_kickstart,
}

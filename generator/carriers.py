"""The output formats, by the file suffix `gen build` gives them."""

from generator.cloudinit import render_user_data
from generator.kickstart import render_kickstart

CARRIERS = {
    ".ks": render_kickstart,
    ".user-data": render_user_data,
}

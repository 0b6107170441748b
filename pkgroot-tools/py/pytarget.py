# pytarget.py - which Python a python-mpi binary embeds (pytarget.c runs it
# as `python-mpi -I -S -c THIS-FILE'S-TEXT`: -I -S, so nothing from the
# environment or a site directory can change the answer).
#
# Prints one line to stdout, which pytarget.c parses:
#   X.Y SOABI CACHE_TAG MAGIC-as-8-hex-digits   ('-' for an empty field)
import importlib.util
import sys
import sysconfig

print('%d.%d' % sys.version_info[:2], sysconfig.get_config_var('SOABI') or '-',
      sys.implementation.cache_tag or '-', importlib.util.MAGIC_NUMBER.hex())

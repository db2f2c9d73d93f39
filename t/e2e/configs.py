PRESET_POSTFIX = {"top": 'preset = "postfix"\n'}
DEFAULT = {}
STRICT = {}

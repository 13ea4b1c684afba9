"""What a Whisper model can be asked for: its sizes and the languages it speaks.

The lists are Whisper's own (faster-whisper's model names and tokenizer languages), kept
here so that the operator, which never imports the worker's heavy packages, checks a
request against the same choices the worker honours.
"""

from __future__ import annotations

#: The sizes faster-whisper knows by name (a model directory may hold others).
WHISPER_SIZES: tuple[str, ...] = (
    "tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium",
    "large-v1", "large-v2", "large-v3", "large", "distil-large-v2", "distil-medium.en",
    "distil-small.en", "distil-large-v3", "distil-large-v3.5", "large-v3-turbo", "turbo",
)  # fmt: skip

#: The languages a multilingual Whisper model speaks: ISO 639-1 code (or Whisper's own
#: code where there is none) to the English name Whisper gives it.
WHISPER_LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian",
    "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
    "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
    "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
    "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
    "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
    "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese",
    "yue": "cantonese",
}  # fmt: skip


def english_only(model_size: str) -> bool:
    """Whether a size names an English-only model (``tiny.en``, ``distil-small.en`` ...)."""
    return model_size.endswith(".en")


def languages_of(model_size: str) -> tuple[str, ...]:
    """The language codes a model of this size speaks."""
    return ("en",) if english_only(model_size) else tuple(WHISPER_LANGUAGES)


def language_code(language: str) -> str | None:
    """The code a user's language names: a code as it is, or Whisper's English name
    (``english``, ``German``) as its code; None: no language Whisper knows."""
    wanted = language.strip().lower()
    if wanted in WHISPER_LANGUAGES:
        return wanted
    for code, name in WHISPER_LANGUAGES.items():
        if name == wanted:
            return code
    return None

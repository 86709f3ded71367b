#!/usr/bin/env python3
"""Writes FICTIONAL sample directory data for Switchboard as one HSDS 3.0 JSON document.

Every organization, name, address, phone number, email and web site below is invented from
word lists: no real survivor, shelter or partner data. Domains are example.org / example.net;
phone numbers use each country's calling code with subscriber digits from ranges set aside for
fiction where a country has one (US/CA 555-01xx, GB 020 7946 0xxx and kin, FR 01 99 00,
AU 5550) and an "800 555 0xxx" pattern elsewhere.

The output is byte-for-byte the same for the same --seed and --orgs (Python 3.11+, standard
library only). The document is the shape `POST /v1/import` accepts (agents/hsds_json.h); every
value passes the field table of conflict/hsds_schema.cpp, mirrored in SCHEMA below.

  python3 examples/data/generate.py                 # writes examples/data/directory.json
  python3 examples/data/generate.py --check         # ... and validates what it wrote
  python3 examples/data/generate.py --check-only --out some.json   # validate an existing file
  python3 examples/data/generate.py --compare export.json          # same records as an export?
"""

import argparse
import json
import os
import random
import re
import sys
import time
import unicodedata
import uuid

GENERATOR = "switchboard examples/data/generate.py"
DOC_DESCRIPTION = ("Fictional sample directory for Switchboard development and tests. "
                   "No real organizations, people, addresses or phone numbers.")

# ---------------------------------------------------------------------------------------------
# The field table: a mirror of conflict/hsds_schema.cpp (types, enums, patterns, lengths).
# ---------------------------------------------------------------------------------------------

POPULATIONS = ["sex_trafficking", "labor_trafficking", "minors", "adults", "women", "men",
               "lgbtq", "foreign_nationals", "families", "disabled"]
CATEGORIES = ["emergency_shelter", "long_term_housing", "legal", "case_management",
              "psychological_support", "medical", "hotline", "interpretation", "employment",
              "education", "repatriation", "financial_aid"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def T(max_len, pattern=None, min_len=0):
    return {"type": "text", "max": max_len, "min": min_len, "pattern": pattern}


def REF():
    return T(36, "uuid")


def I(lo, hi):
    return {"type": "int", "lo": lo, "hi": hi}


def B():
    return {"type": "bool"}


def N(lo, hi):
    return {"type": "number", "lo": lo, "hi": hi}


def E(values):
    return {"type": "enum", "max": 64, "min": 0, "pattern": None, "values": values}


def S(values, pattern=None):
    return {"type": "set", "max": 64, "min": 0, "pattern": pattern, "values": values,
            "max_elements": 64}


SCHEMA = {
    "organization": {
        "name": T(200, min_len=1), "alternate_name": T(200), "description": T(4000),
        "email": T(254, "email"), "website": T(500, "url"), "legal_status": T(100),
        "year_incorporated": I(1800, 2100), "countries_served": S([], "country"),
        "populations_served": S(POPULATIONS),
    },
    "service": {
        "organization_id": REF(), "name": T(200, min_len=1), "alternate_name": T(200),
        "description": T(4000), "url": T(500, "url"), "email": T(254, "email"),
        "status": E(["active", "inactive", "defunct", "temporarily closed"]),
        "categories": S(CATEGORIES), "populations_served": S(POPULATIONS),
        "countries_served": S([], "country"), "available_24_7": B(),
        "capacity_beds_available": I(0, 100000), "capacity_beds_total": I(0, 100000),
        "eligibility_description": T(2000), "application_process": T(2000),
        "fees_description": T(1000),
    },
    "location": {
        "organization_id": REF(), "name": T(200), "location_type": E(["physical", "postal",
                                                                      "virtual"]),
        "description": T(2000), "address_1": T(200), "address_2": T(200), "city": T(100),
        "state_province": T(100), "postal_code": T(20), "country": T(2, "country"),
        "latitude": N(-90, 90), "longitude": N(-180, 180),
        "address_confidential": B(),
    },
    "service_at_location": {
        "service_id": REF(), "location_id": REF(), "description": T(1000),
    },
    "phone": {
        "organization_id": REF(), "service_id": REF(), "location_id": REF(),
        "number": T(16, "e164"), "extension": N(0, 1e15),
        "type": E(["text", "voice", "fax", "cell", "video", "pager", "textphone"]),
        "description": T(500), "languages": S([], "language"),
    },
    "schedule": {
        "service_id": REF(), "location_id": REF(), "freq": E(["WEEKLY", "MONTHLY"]),
        "byday": S(DAYS), "opens_at": T(5, "time"), "closes_at": T(5, "time"),
        "valid_from": T(10, "date"), "valid_to": T(10, "date"), "description": T(500),
        "notes": T(500),
    },
    "language": {
        "service_id": REF(), "location_id": REF(), "phone_id": REF(), "name": T(100),
        "code": T(2, "language"), "note": T(500),
    },
}
# Keys that hold child records rather than field values (agents/hsds_json.cpp kChildren).
CHILDREN = {
    "organization": {"services": "service", "locations": "location", "phones": "phone"},
    "service": {"phones": "phone", "schedules": "schedule", "languages": "language",
                "service_at_locations": "service_at_location"},
    "location": {"phones": "phone", "schedules": "schedule", "languages": "language"},
    "phone": {},  # a phone's "languages" is its set of codes
    "schedule": {}, "language": {}, "service_at_location": {},
}
LINK = {"organization": "organization_id", "service": "service_id", "location": "location_id"}
TOP_LEVEL = {"organizations": "organization", "services": "service", "locations": "location",
             "phones": "phone", "schedules": "schedule", "languages": "language",
             "service_at_locations": "service_at_location"}

_DIGITS = re.compile(r"[0-9]+\Z")


def _is_hostname(h):
    if not h or len(h) > 253 or h[0] == "." or h[-1] == ".":
        return False
    if not re.fullmatch(r"[A-Za-z0-9.-]+", h) or ".." in h:
        return False
    return "." in h


def _is_url(s):
    if s.startswith("https://"):
        rest = s[8:]
    elif s.startswith("http://"):
        rest = s[7:]
    else:
        return False
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if ":" in host:
        host, port = host.split(":", 1)
        if not _DIGITS.match(port):
            return False
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        return False
    return _is_hostname(host)


def _is_email(s):
    if s.count("@") != 1 or s.startswith("@"):
        return False
    local, host = s.split("@")
    return bool(re.fullmatch(r"[A-Za-z0-9._%+-]+", local)) and _is_hostname(host)


def _is_time(s):
    m = re.fullmatch(r"([0-9]{2}):([0-9]{2})", s)
    return bool(m) and int(m[1]) < 24 and int(m[2]) < 60


def _is_date(s):
    m = re.fullmatch(r"[0-9]{4}-([0-9]{2})-([0-9]{2})", s)
    return bool(m) and 1 <= int(m[1]) <= 12 and 1 <= int(m[2]) <= 31


PATTERNS = {
    None: lambda s: True,
    "uuid": lambda s: bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                        r"[0-9a-f]{12}", s)),
    "e164": lambda s: bool(re.fullmatch(r"\+[1-9][0-9]{7,14}", s)),
    "url": _is_url,
    "email": _is_email,
    "country": lambda s: bool(re.fullmatch(r"[A-Z]{2}", s)),
    "language": lambda s: bool(re.fullmatch(r"[a-z]{2}", s)),
    "time": _is_time,
    "date": _is_date,
    "decimal": lambda s: bool(re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", s)),
}


def check_text(spec, s):
    """The rule of FieldSchema's TextRule: byte length, control characters, pattern, enum."""
    if not isinstance(s, str):
        return "must be text, got %s" % type(s).__name__
    n = len(s.encode("utf-8"))
    if n > spec["max"]:
        return "longer than %d bytes (%d)" % (spec["max"], n)
    if n < spec.get("min", 0):
        return "must be at least %d characters" % spec["min"]
    if any(ord(c) < 0x20 and c not in "\n\t" for c in s):
        return "contains a control character"
    if not PATTERNS[spec.get("pattern")](s):
        return "does not match pattern %s (got %r)" % (spec["pattern"], s[:80])
    if spec.get("values") and s not in spec["values"]:
        return "must be one of %s (got %r)" % (", ".join(spec["values"]), s[:80])
    return None


def check_value(spec, v):
    t = spec["type"]
    if t in ("text", "enum"):
        return check_text(spec, v)
    if t == "int":
        if type(v) is not int:
            return "must be integer"
        if not spec["lo"] <= v <= spec["hi"]:
            return "must be between %d and %d (got %d)" % (spec["lo"], spec["hi"], v)
        return None
    if t == "number":
        if type(v) not in (int, float):
            return "must be a number"
        if not spec["lo"] <= v <= spec["hi"]:
            return "must be between %s and %s (got %s)" % (spec["lo"], spec["hi"], v)
        return None
    if t == "bool":
        return None if type(v) is bool else "must be boolean"
    if t == "set":
        if not isinstance(v, list):
            return "must be a list of text"
        if len(set(v)) > spec["max_elements"]:
            return "more than %d elements" % spec["max_elements"]
        if len(set(v)) != len(v):
            return "repeats an element"
        for el in v:
            err = check_text(spec, el)
            if err:
                return "element: " + err
        return None
    return "unknown type"


# ---------------------------------------------------------------------------------------------
# Word lists and places. Cities, regions and coordinates are real places (approximate city
# centres); street numbers, organizations and everything else are invented.
# ---------------------------------------------------------------------------------------------

LANGUAGE_NAMES = {
    "af": "Afrikaans", "ak": "Akan", "am": "Amharic", "ar": "Arabic", "bg": "Bulgarian",
    "bn": "Bengali", "ca": "Catalan", "cy": "Welsh", "de": "German", "ee": "Ewe",
    "en": "English", "es": "Spanish", "fr": "French", "ha": "Hausa", "hi": "Hindi",
    "ht": "Haitian Creole", "hu": "Hungarian", "ig": "Igbo", "it": "Italian", "km": "Khmer",
    "ko": "Korean", "lg": "Ganda", "lo": "Lao", "mr": "Marathi", "my": "Burmese",
    "ne": "Nepali", "nl": "Dutch", "om": "Oromo", "pl": "Polish", "pt": "Portuguese",
    "qu": "Quechua", "ro": "Romanian", "ru": "Russian", "sn": "Shona", "sq": "Albanian",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "th": "Thai", "ti": "Tigrinya",
    "tl": "Tagalog", "uk": "Ukrainian", "vi": "Vietnamese", "xh": "Xhosa", "yo": "Yoruba",
    "zh": "Chinese", "zu": "Zulu",
}

# Phone numbers: NANP cities ("area") get +1 AAA 555 01xx; cities with a "fixed" drama range
# fill its x's; every other city gets +CC 800 555 0xxx.
# City tuples: (city, state/province or None, lat, lon, extra options)
COUNTRIES = [
    {"code": "NG", "name": "Nigeria", "cc": "234", "weight": 30, "langs": ["en", "ha", "yo", "ig"],
     "diaspora": [], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Ireti", "Alheri", "Ifeoma", "Zumunta", "Nneka", "Ayo"],
     "postal": "######", "street": ("{n} {s}", ["Marina Road", "Allen Avenue", "Adeola Odeku Street",
                                                 "Aminu Kano Crescent", "Sapele Road", "Ring Road"]),
     "neighbors": ["BJ", "GH", "TG"],
     "cities": [("Lagos", "Lagos", 6.5244, 3.3792, {"lang": "yo"}),
                ("Abuja", "FCT", 9.0765, 7.3986, {"lang": "ha"}),
                ("Benin City", "Edo", 6.3350, 5.6037, {}),
                ("Kano", "Kano", 12.0022, 8.5920, {"lang": "ha"}),
                ("Port Harcourt", "Rivers", 4.8156, 7.0498, {"lang": "ig"}),
                ("Ibadan", "Oyo", 7.3775, 3.9470, {"lang": "yo"})]},
    {"code": "GH", "name": "Ghana", "cc": "233", "weight": 16, "langs": ["en", "ak", "ee"],
     "diaspora": [], "styles": [("en", 6), ("local", 4)],
     "local_words": ["Akwaaba", "Nkabom", "Sankofa", "Anidaso"],
     "postal": "GA-###-####", "street": ("{n} {s}", ["Oxford Street", "Ring Road East",
                                                      "Liberation Road", "Harper Road"]),
     "neighbors": ["TG", "NG"],
     "cities": [("Accra", "Greater Accra", 5.6037, -0.1870, {}),
                ("Kumasi", "Ashanti", 6.6885, -1.6244, {}),
                ("Tamale", "Northern", 9.4008, -0.8393, {}),
                ("Takoradi", "Western", 4.8845, -1.7554, {})]},
    {"code": "BJ", "name": "Benin", "cc": "229", "weight": 10, "langs": ["fr", "yo"],
     "diaspora": [], "styles": [("fr", 7), ("local", 3)],
     "local_words": ["Mawuli", "Sena", "Dodji"],
     "postal": None, "street": ("{s}, lot {n}", ["Rue 12.145", "Boulevard de la Marina",
                                                 "Rue des Cheminots", "Avenue Steinmetz"]),
     "neighbors": ["NG", "TG"],
     "cities": [("Cotonou", "Littoral", 6.3703, 2.3912, {}),
                ("Porto-Novo", "Ouémé", 6.4969, 2.6289, {}),
                ("Parakou", "Borgou", 9.3372, 2.6303, {})]},
    {"code": "TG", "name": "Togo", "cc": "228", "weight": 9, "langs": ["fr", "ee"],
     "diaspora": [], "styles": [("fr", 7), ("local", 3)],
     "local_words": ["Mawuli", "Sena", "Elikem"],
     "postal": None, "street": ("{n} {s}", ["rue du Commerce", "boulevard du Mono",
                                             "avenue de la Libération", "rue Tokmake"]),
     "neighbors": ["GH", "BJ"],
     "cities": [("Lomé", "Maritime", 6.1256, 1.2254, {}),
                ("Kara", "Kara", 9.5511, 1.1861, {}),
                ("Sokodé", "Centrale", 8.9833, 1.1333, {})]},
    {"code": "KE", "name": "Kenya", "cc": "254", "weight": 16, "langs": ["sw", "en"],
     "diaspora": [], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Tumaini", "Amani", "Upendo", "Uhuru", "Imani", "Neema"],
     "postal": "#####", "street": ("{s}, No. {n}", ["Ngong Road", "Moi Avenue", "Kenyatta Avenue",
                                                    "Oginga Odinga Street", "Digo Road"]),
     "neighbors": ["UG", "ET"],
     "cities": [("Nairobi", "Nairobi County", -1.2921, 36.8219, {}),
                ("Mombasa", "Mombasa County", -4.0435, 39.6682, {}),
                ("Kisumu", "Kisumu County", -0.0917, 34.7680, {}),
                ("Nakuru", "Nakuru County", -0.3031, 36.0800, {})]},
    {"code": "UG", "name": "Uganda", "cc": "256", "weight": 12, "langs": ["en", "sw", "lg"],
     "diaspora": [], "styles": [("en", 6), ("local", 4)],
     "local_words": ["Tumaini", "Amani", "Neema", "Imani"],
     "postal": None, "street": ("Plot {n}, {s}", ["Kampala Road", "Jinja Road", "Bombo Road",
                                                  "Acholi Road", "Main Street"]),
     "neighbors": ["KE"],
     "cities": [("Kampala", "Central Region", 0.3476, 32.5825, {"lang": "lg"}),
                ("Gulu", "Northern Region", 2.7746, 32.2990, {}),
                ("Mbarara", "Western Region", -0.6072, 30.6545, {}),
                ("Jinja", "Eastern Region", 0.4244, 33.2041, {})]},
    {"code": "ZA", "name": "South Africa", "cc": "27", "weight": 16,
     "langs": ["en", "zu", "xh", "af"], "diaspora": ["pt", "sn", "fr"],
     "styles": [("en", 6), ("local", 4)],
     "local_words": ["Ubuntu", "Themba", "Khanyisa", "Thandeka", "Sizwe"],
     "postal": "####", "street": ("{n} {s}", ["Main Road", "Long Street", "Jan Smuts Avenue",
                                              "Florida Road", "Church Street"]),
     "neighbors": [],
     "cities": [("Johannesburg", "Gauteng", -26.2041, 28.0473, {"lang": "zu"}),
                ("Cape Town", "Western Cape", -33.9249, 18.4241, {"lang": "xh"}),
                ("Durban", "KwaZulu-Natal", -29.8587, 31.0218, {"lang": "zu"}),
                ("Pretoria", "Gauteng", -25.7479, 28.2293, {"lang": "af"})]},
    {"code": "ET", "name": "Ethiopia", "cc": "251", "weight": 8, "langs": ["am", "en", "om", "ti"],
     "diaspora": [], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Tesfa", "Selam", "Berhan"],
     "postal": "####", "street": ("{s}, House No. {n}", ["Bole Road", "Churchill Avenue",
                                                         "Africa Avenue", "Ras Desta Street"]),
     "neighbors": ["KE"],
     "cities": [("Addis Ababa", "Addis Ababa", 9.0300, 38.7400, {}),
                ("Dire Dawa", "Dire Dawa", 9.6009, 41.8501, {"lang": "om"}),
                ("Bahir Dar", "Amhara", 11.5742, 37.3614, {})]},
    {"code": "US", "name": "United States", "cc": "1", "weight": 34, "langs": ["en", "es"],
     "diaspora": ["es", "vi", "zh", "tl", "ht", "ko"], "styles": [("en", 1)],
     "local_words": [],
     "postal": "#####", "street": ("{n} {s}", ["Main Street", "Oak Avenue", "Elm Street",
                                               "Harbor Boulevard", "Pine Street", "Cedar Lane",
                                               "Mission Street", "Lake Avenue"]),
     "neighbors": ["MX"],
     "cities": [("Houston", "TX", 29.7604, -95.3698, {"area": "713"}),
                ("Los Angeles", "CA", 34.0522, -118.2437, {"area": "213"}),
                ("New York", "NY", 40.7128, -74.0060, {"area": "212"}),
                ("Atlanta", "GA", 33.7490, -84.3880, {"area": "404"}),
                ("Chicago", "IL", 41.8781, -87.6298, {"area": "312"}),
                ("Miami", "FL", 25.7617, -80.1918, {"area": "305", "lang": "ht"}),
                ("Seattle", "WA", 47.6062, -122.3321, {"area": "206"}),
                ("Washington", "DC", 38.9072, -77.0369, {"area": "202"})]},
    {"code": "CA", "name": "Canada", "cc": "1", "weight": 12, "langs": ["en", "fr"],
     "diaspora": ["es", "tl", "zh", "ko"], "styles": [("en", 8), ("fr", 2)],
     "local_words": [],
     "postal": "A#A #A#", "street": ("{n} {s}", ["Queen Street West", "Main Street",
                                                 "Granville Street", "rue Sainte-Catherine",
                                                 "Portage Avenue"]),
     "neighbors": ["US"],
     "cities": [("Toronto", "ON", 43.6532, -79.3832, {"area": "416"}),
                ("Vancouver", "BC", 49.2827, -123.1207, {"area": "604"}),
                ("Montréal", "QC", 45.5019, -73.5674, {"area": "514"}),
                ("Winnipeg", "MB", 49.8951, -97.1384, {"area": "204"})]},
    {"code": "MX", "name": "Mexico", "cc": "52", "weight": 22, "langs": ["es"],
     "diaspora": ["en"], "styles": [("es", 1)], "local_words": [],
     "postal": "#####", "street": ("{s} {n}", ["Calle Hidalgo", "Avenida Juárez",
                                               "Calle Morelos", "Avenida Revolución",
                                               "Calle 5 de Mayo", "Boulevard Agua Caliente"]),
     "neighbors": ["US", "GT"],
     "cities": [("Ciudad de México", "Ciudad de México", 19.4326, -99.1332, {}),
                ("Tijuana", "Baja California", 32.5149, -117.0382, {}),
                ("Tapachula", "Chiapas", 14.9039, -92.2575, {}),
                ("Monterrey", "Nuevo León", 25.6866, -100.3161, {}),
                ("Cancún", "Quintana Roo", 21.1619, -86.8515, {})]},
    {"code": "GT", "name": "Guatemala", "cc": "502", "weight": 12, "langs": ["es"],
     "diaspora": [], "styles": [("es", 1)], "local_words": [],
     "postal": "#####", "street": ("{k}a. Avenida {k}-{m}, {s}", ["zona 1", "zona 4", "zona 10",
                                                                  "zona 3"]),
     "neighbors": ["MX", "HN", "SV"],
     "cities": [("Ciudad de Guatemala", "Guatemala", 14.6349, -90.5069, {}),
                ("Quetzaltenango", "Quetzaltenango", 14.8347, -91.5181, {}),
                ("Tecún Umán", "San Marcos", 14.6760, -92.1430, {})]},
    {"code": "HN", "name": "Honduras", "cc": "504", "weight": 10, "langs": ["es"],
     "diaspora": [], "styles": [("es", 1)], "local_words": [],
     "postal": "#####", "street": ("{s}, casa {n}", ["Colonia Palmira", "Barrio Guamilito",
                                                     "Colonia Kennedy", "Barrio El Centro"]),
     "neighbors": ["GT", "SV"],
     "cities": [("Tegucigalpa", "Francisco Morazán", 14.0723, -87.1921, {}),
                ("San Pedro Sula", "Cortés", 15.5050, -88.0250, {})]},
    {"code": "SV", "name": "El Salvador", "cc": "503", "weight": 8, "langs": ["es"],
     "diaspora": [], "styles": [("es", 1)], "local_words": [],
     "postal": "CP ####", "street": ("{s} #{n}", ["Calle Arce", "Avenida Masferrer",
                                                  "Calle Libertad", "Paseo General Escalón"]),
     "neighbors": ["GT", "HN"],
     "cities": [("San Salvador", "San Salvador", 13.6929, -89.2182, {}),
                ("Santa Ana", "Santa Ana", 13.9942, -89.5597, {})]},
    {"code": "CO", "name": "Colombia", "cc": "57", "weight": 16, "langs": ["es"],
     "diaspora": [], "styles": [("es", 1)], "local_words": [],
     "postal": "######", "street": ("{s} # {n}-{m}", ["Calle 26", "Carrera 7", "Calle 72",
                                                      "Carrera 43A", "Avenida 6N"]),
     "neighbors": ["PE"],
     "cities": [("Bogotá", "Bogotá D.C.", 4.7110, -74.0721, {}),
                ("Medellín", "Antioquia", 6.2442, -75.5812, {}),
                ("Cali", "Valle del Cauca", 3.4516, -76.5320, {}),
                ("Cúcuta", "Norte de Santander", 7.8939, -72.5078, {})]},
    {"code": "BR", "name": "Brazil", "cc": "55", "weight": 20, "langs": ["pt"],
     "diaspora": ["es"], "styles": [("pt", 1)], "local_words": [],
     "postal": "#####-###", "street": ("{s}, {n}", ["Rua das Flores", "Avenida Paulista",
                                                    "Rua da Aurora", "Avenida Beira-Mar",
                                                    "Rua Sete de Setembro"]),
     "neighbors": ["CO", "PE"],
     "cities": [("São Paulo", "SP", -23.5505, -46.6333, {}),
                ("Rio de Janeiro", "RJ", -22.9068, -43.1729, {}),
                ("Manaus", "AM", -3.1190, -60.0217, {}),
                ("Recife", "PE", -8.0476, -34.8770, {}),
                ("Fortaleza", "CE", -3.7319, -38.5267, {})]},
    {"code": "PE", "name": "Peru", "cc": "51", "weight": 9, "langs": ["es", "qu"],
     "diaspora": [], "styles": [("es", 1)], "local_words": [],
     "postal": "#####", "street": ("{s} {n}", ["Jirón de la Unión", "Avenida Arequipa",
                                               "Calle Procuradores", "Avenida León Velarde"]),
     "neighbors": ["CO", "BR"],
     "cities": [("Lima", "Lima", -12.0464, -77.0428, {}),
                ("Cusco", "Cusco", -13.5320, -71.9675, {}),
                ("Puerto Maldonado", "Madre de Dios", -12.5933, -69.1891, {})]},
    {"code": "PH", "name": "Philippines", "cc": "63", "weight": 18, "langs": ["tl", "en"],
     "diaspora": [], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Pag-asa", "Kalinga", "Tahanan", "Bagong Umaga", "Liwanag", "Bayanihan"],
     "postal": "####", "street": ("{n} {s}", ["Rizal Avenue", "Mabini Street", "Osmeña Boulevard",
                                              "J.P. Laurel Avenue", "Fields Avenue"]),
     "neighbors": [],
     "cities": [("Manila", "Metro Manila", 14.5995, 120.9842, {}),
                ("Cebu City", "Cebu", 10.3157, 123.8854, {}),
                ("Davao City", "Davao del Sur", 7.1907, 125.4553, {}),
                ("Angeles", "Pampanga", 15.1450, 120.5887, {})]},
    {"code": "TH", "name": "Thailand", "cc": "66", "weight": 16, "langs": ["th", "en"],
     "diaspora": ["my", "km", "lo"], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Rung Arun", "Baan Rak", "Jai Dee", "Saeng Chan"],
     "postal": "#####", "street": ("{n} {s}", ["Sukhumvit Road", "Rama IV Road",
                                               "Nimmanhaemin Road", "Phaholyothin Road",
                                               "Intharakiri Road"]),
     "neighbors": ["KH", "LA"],
     "cities": [("Bangkok", "Bangkok", 13.7563, 100.5018, {}),
                ("Chiang Mai", "Chiang Mai", 18.7883, 98.9853, {}),
                ("Chiang Rai", "Chiang Rai", 19.9105, 99.8406, {}),
                ("Pattaya", "Chonburi", 12.9236, 100.8825, {}),
                ("Mae Sot", "Tak", 16.7131, 98.5747, {"lang": "my"})]},
    {"code": "VN", "name": "Vietnam", "cc": "84", "weight": 12, "langs": ["vi"],
     "diaspora": [], "styles": [("en", 4), ("local", 6)],
     "local_words": ["Bình Minh", "Hy Vọng", "Ánh Sáng", "Mái Ấm", "Chân Trời Mới"],
     "postal": "######", "street": ("{n} {s}", ["Phố Huế", "Đường Lê Lợi", "Đường Trần Phú",
                                                "Phố Hàng Bài", "Đường Nguyễn Huệ"]),
     "neighbors": ["KH", "LA"],
     "cities": [("Hà Nội", "Hà Nội", 21.0278, 105.8342, {}),
                ("Thành phố Hồ Chí Minh", "Thành phố Hồ Chí Minh", 10.8231, 106.6297, {}),
                ("Lào Cai", "Lào Cai", 22.4856, 103.9707, {}),
                ("Đà Nẵng", "Đà Nẵng", 16.0544, 108.2022, {})]},
    {"code": "KH", "name": "Cambodia", "cc": "855", "weight": 12, "langs": ["km", "en"],
     "diaspora": [], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Ponleu", "Metta", "Reaksmey", "Kdei Sangkhum"],
     "postal": "#####", "street": ("No. {n}, {s}", ["Street 51", "Norodom Boulevard",
                                                    "Sivutha Boulevard", "Street 2"]),
     "neighbors": ["TH", "VN"],
     "cities": [("Phnom Penh", "Phnom Penh", 11.5564, 104.9282, {}),
                ("Siem Reap", "Siem Reap", 13.3671, 103.8448, {}),
                ("Battambang", "Battambang", 13.0957, 103.2022, {}),
                ("Poipet", "Banteay Meanchey", 13.6588, 102.5625, {})]},
    {"code": "LA", "name": "Laos", "cc": "856", "weight": 6, "langs": ["lo", "en"],
     "diaspora": [], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Mittaphap", "Khuam Wang", "Saeng Tawan"],
     "postal": "#####", "street": ("{s}, Unit {n}", ["Samsenthai Road", "Lane Xang Avenue",
                                                     "Setthathirath Road"]),
     "neighbors": ["TH", "VN"],
     "cities": [("Vientiane", "Vientiane Prefecture", 17.9757, 102.6331, {}),
                ("Savannakhet", "Savannakhet", 16.5560, 104.7500, {})]},
    {"code": "IN", "name": "India", "cc": "91", "weight": 22, "langs": ["hi", "en"],
     "diaspora": ["ne", "bn"], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Asha", "Nayi Disha", "Aashray", "Roshni", "Sahas", "Udaan", "Jyoti"],
     "postal": "######", "street": ("{n}, {s}", ["MG Road", "Station Road", "Park Street",
                                                 "Linking Road", "Anna Salai"]),
     "neighbors": ["NP", "BD"],
     "cities": [("Mumbai", "Maharashtra", 19.0760, 72.8777, {"lang": "mr"}),
                ("Kolkata", "West Bengal", 22.5726, 88.3639, {"lang": "bn"}),
                ("New Delhi", "Delhi", 28.6139, 77.2090, {}),
                ("Chennai", "Tamil Nadu", 13.0827, 80.2707, {"lang": "ta"}),
                ("Hyderabad", "Telangana", 17.3850, 78.4867, {"lang": "te"})]},
    {"code": "NP", "name": "Nepal", "cc": "977", "weight": 12, "langs": ["ne", "en"],
     "diaspora": [], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Aasha", "Naya Bato", "Ujyalo", "Jyoti", "Sahayatri"],
     "postal": "#####", "street": ("{s}, House {n}", ["Durbar Marg", "Lakeside Road",
                                                     "Main Road", "Putali Sadak"]),
     "neighbors": ["IN"],
     "cities": [("Kathmandu", "Bagmati", 27.7172, 85.3240, {}),
                ("Pokhara", "Gandaki", 28.2096, 83.9856, {}),
                ("Biratnagar", "Koshi", 26.4525, 87.2718, {}),
                ("Birgunj", "Madhesh", 27.0104, 84.8770, {})]},
    {"code": "BD", "name": "Bangladesh", "cc": "880", "weight": 12, "langs": ["bn", "en"],
     "diaspora": [], "styles": [("en", 5), ("local", 5)],
     "local_words": ["Alo", "Notun Alo", "Shapla", "Prottasha"],
     "postal": "####", "street": ("House {n}, {s}", ["Road 11, Banani", "Mirpur Road",
                                                     "Station Road", "Marine Drive"]),
     "neighbors": ["IN"],
     "cities": [("Dhaka", "Dhaka Division", 23.8103, 90.4125, {}),
                ("Chattogram", "Chattogram Division", 22.3569, 91.7832, {}),
                ("Jashore", "Khulna Division", 23.1664, 89.2081, {}),
                ("Cox's Bazar", "Chattogram Division", 21.4272, 92.0058, {})]},
    {"code": "RO", "name": "Romania", "cc": "40", "weight": 14, "langs": ["ro"],
     "diaspora": [], "styles": [("ro", 8), ("en", 2)], "local_words": [],
     "postal": "######", "street": ("{s} nr. {n}", ["Strada Lipscani", "Bulevardul Unirii",
                                                    "Strada Mihai Eminescu", "Strada Republicii",
                                                    "Calea Victoriei"]),
     "neighbors": ["MD", "UA"],
     "cities": [("București", "București", 44.4268, 26.1025, {}),
                ("Iași", "Iași", 47.1585, 27.6014, {}),
                ("Cluj-Napoca", "Cluj", 46.7712, 23.6236, {"lang": "hu"}),
                ("Timișoara", "Timiș", 45.7489, 21.2087, {})]},
    {"code": "MD", "name": "Moldova", "cc": "373", "weight": 9, "langs": ["ro", "ru"],
     "diaspora": [], "styles": [("ro", 8), ("en", 2)], "local_words": [],
     "postal": "MD-####", "street": ("{s} {n}", ["strada Ștefan cel Mare", "strada Pușkin",
                                                 "strada Independenței", "strada București"]),
     "neighbors": ["RO", "UA"],
     "cities": [("Chișinău", "Chișinău", 47.0105, 28.8638, {}),
                ("Bălți", "Bălți", 47.7617, 27.9289, {}),
                ("Cahul", "Cahul", 45.9075, 28.1944, {})]},
    {"code": "UA", "name": "Ukraine", "cc": "380", "weight": 14, "langs": ["uk", "ru"],
     "diaspora": [], "styles": [("uk", 7), ("en", 3)], "local_words": [],
     "postal": "#####", "street": ("{s}, {n}", ["вул. Шевченка", "вул. Франка", "просп. Миру",
                                                "вул. Соборна", "вул. Садова"]),
     "neighbors": ["MD", "PL", "RO"],
     "cities": [("Київ", "Київ", 50.4501, 30.5234, {}),
                ("Львів", "Львівська область", 49.8397, 24.0297, {}),
                ("Одеса", "Одеська область", 46.4825, 30.7233, {}),
                ("Харків", "Харківська область", 49.9935, 36.2304, {}),
                ("Ужгород", "Закарпатська область", 48.6208, 22.2879, {"lang": "hu"})]},
    {"code": "AL", "name": "Albania", "cc": "355", "weight": 10, "langs": ["sq"],
     "diaspora": [], "styles": [("sq", 7), ("en", 3)], "local_words": [],
     "postal": "####", "street": ("{s}, nr. {n}", ["Rruga e Durrësit", "Rruga Myslym Shyri",
                                                   "Bulevardi Zogu I", "Rruga Kavajës"]),
     "neighbors": ["IT"],
     "cities": [("Tiranë", "Tiranë", 41.3275, 19.8187, {}),
                ("Durrës", "Durrës", 41.3231, 19.4414, {}),
                ("Shkodër", "Shkodër", 42.0693, 19.5033, {}),
                ("Vlorë", "Vlorë", 40.4661, 19.4914, {})]},
    {"code": "PL", "name": "Poland", "cc": "48", "weight": 10, "langs": ["pl"],
     "diaspora": ["uk", "ru", "vi"], "styles": [("pl", 7), ("en", 3)], "local_words": [],
     "postal": "##-###", "street": ("ul. {s} {n}", ["Marszałkowska", "Długa", "Piotrkowska",
                                                    "Świętokrzyska", "Grunwaldzka"]),
     "neighbors": ["UA", "DE"],
     "cities": [("Warszawa", "Mazowieckie", 52.2297, 21.0122, {}),
                ("Kraków", "Małopolskie", 50.0647, 19.9450, {}),
                ("Wrocław", "Dolnośląskie", 51.1079, 17.0385, {}),
                ("Gdańsk", "Pomorskie", 54.3520, 18.6466, {})]},
    {"code": "GB", "name": "United Kingdom", "cc": "44", "weight": 22, "langs": ["en"],
     "diaspora": ["ro", "sq", "vi", "pl", "ti", "ar"], "styles": [("en", 1)], "local_words": [],
     "postal": "AA# #AA", "street": ("{n} {s}", ["High Street", "Station Road", "Church Lane",
                                                 "Victoria Road", "Mill Lane", "Queen Street"]),
     "neighbors": [],
     "cities": [("London", "England", 51.5074, -0.1278, {"fixed": "442079460xxx"}),
                ("Manchester", "England", 53.4808, -2.2426, {"fixed": "441614960xxx"}),
                ("Birmingham", "England", 52.4862, -1.8904, {"fixed": "441214960xxx"}),
                ("Glasgow", "Scotland", 55.8642, -4.2518, {"fixed": "441414960xxx"}),
                ("Cardiff", "Wales", 51.4816, -3.1791, {"fixed": "442920180xxx", "lang": "cy"}),
                ("Belfast", "Northern Ireland", 54.5973, -5.9301, {"fixed": "442890180xxx"})]},
    {"code": "DE", "name": "Germany", "cc": "49", "weight": 16, "langs": ["de"],
     "diaspora": ["ro", "bg", "uk", "ru", "en", "ar"], "styles": [("de", 8), ("en", 2)],
     "local_words": [],
     "postal": "#####", "street": ("{s} {n}", ["Hauptstraße", "Bahnhofstraße", "Lindenallee",
                                               "Gartenweg", "Schillerstraße", "Kirchplatz"]),
     "neighbors": ["NL", "PL", "FR"],
     "cities": [("Berlin", "Berlin", 52.5200, 13.4050, {}),
                ("Hamburg", "Hamburg", 53.5511, 9.9937, {}),
                ("München", "Bayern", 48.1351, 11.5820, {}),
                ("Frankfurt am Main", "Hessen", 50.1109, 8.6821, {}),
                ("Köln", "Nordrhein-Westfalen", 50.9375, 6.9603, {})]},
    {"code": "IT", "name": "Italy", "cc": "39", "weight": 14, "langs": ["it"],
     "diaspora": ["en", "ro", "ar", "fr", "sq"], "styles": [("it", 8), ("en", 2)],
     "local_words": [],
     "postal": "#####", "street": ("{s} {n}", ["Via Roma", "Via Garibaldi", "Corso Italia",
                                               "Via dei Mille", "Piazza Dante"]),
     "neighbors": ["AL"],
     "cities": [("Roma", "Lazio", 41.9028, 12.4964, {}),
                ("Milano", "Lombardia", 45.4642, 9.1900, {}),
                ("Napoli", "Campania", 40.8518, 14.2681, {}),
                ("Palermo", "Sicilia", 38.1157, 13.3615, {}),
                ("Torino", "Piemonte", 45.0703, 7.6869, {})]},
    {"code": "ES", "name": "Spain", "cc": "34", "weight": 14, "langs": ["es"],
     "diaspora": ["ro", "en", "pt", "ar", "fr"], "styles": [("es", 8), ("en", 2)],
     "local_words": [],
     "postal": "#####", "street": ("{s}, {n}", ["Calle Mayor", "Avenida de la Constitución",
                                                "Calle del Carmen", "Paseo de Gracia",
                                                "Calle Real"]),
     "neighbors": ["FR"],
     "cities": [("Madrid", "Comunidad de Madrid", 40.4168, -3.7038, {}),
                ("Barcelona", "Cataluña", 41.3874, 2.1686, {"lang": "ca"}),
                ("Sevilla", "Andalucía", 37.3891, -5.9845, {}),
                ("Valencia", "Comunitat Valenciana", 39.4699, -0.3763, {}),
                ("Almería", "Andalucía", 36.8340, -2.4637, {})]},
    {"code": "FR", "name": "France", "cc": "33", "weight": 14, "langs": ["fr"],
     "diaspora": ["en", "ro", "zh", "ar", "vi"], "styles": [("fr", 8), ("en", 2)],
     "local_words": [],
     "postal": "#####", "street": ("{n} {s}", ["rue de la République", "avenue Jean Jaurès",
                                               "rue Victor Hugo", "boulevard Pasteur",
                                               "rue du Port"]),
     "neighbors": ["ES", "DE", "GB"],
     "cities": [("Paris", "Île-de-France", 48.8566, 2.3522, {}),
                ("Marseille", "Provence-Alpes-Côte d'Azur", 43.2965, 5.3698, {}),
                ("Lyon", "Auvergne-Rhône-Alpes", 45.7640, 4.8357, {}),
                ("Lille", "Hauts-de-France", 50.6292, 3.0573, {}),
                ("Calais", "Hauts-de-France", 50.9513, 1.8587, {})]},
    {"code": "NL", "name": "Netherlands", "cc": "31", "weight": 12, "langs": ["nl", "en"],
     "diaspora": ["ro", "pl", "uk", "bg"], "styles": [("nl", 7), ("en", 3)], "local_words": [],
     "postal": "#### AA", "street": ("{s} {n}", ["Kerkstraat", "Stationsweg", "Havenstraat",
                                                 "Molenweg", "Dorpsstraat"]),
     "neighbors": ["DE"],
     "cities": [("Amsterdam", "Noord-Holland", 52.3676, 4.9041, {}),
                ("Rotterdam", "Zuid-Holland", 51.9244, 4.4777, {}),
                ("Den Haag", "Zuid-Holland", 52.0705, 4.3007, {}),
                ("Utrecht", "Utrecht", 52.0907, 5.1214, {}),
                ("Eindhoven", "Noord-Brabant", 51.4416, 5.4697, {})]},
    {"code": "AU", "name": "Australia", "cc": "61", "weight": 10, "langs": ["en"],
     "diaspora": ["th", "vi", "zh", "ko"], "styles": [("en", 1)], "local_words": [],
     "postal": "####", "street": ("{n} {s}", ["George Street", "Collins Street", "Queen Street",
                                              "Hay Street", "King Street"]),
     "neighbors": [],
     "cities": [("Sydney", "NSW", -33.8688, 151.2093, {"fixed": "6125550xxxx"}),
                ("Melbourne", "VIC", -37.8136, 144.9631, {"fixed": "6135550xxxx"}),
                ("Brisbane", "QLD", -27.4698, 153.0251, {"fixed": "6175550xxxx"}),
                ("Perth", "WA", -31.9505, 115.8605, {"fixed": "6185550xxxx"})]},
]
# French drama numbers (01 99 00 xx xx) for every French city.
for _c in COUNTRIES:
    if _c["code"] == "FR":
        _c["cities"] = [c[:4] + ({**c[4], "fixed": "3319900xxxx"},) for c in _c["cities"]]

EN_WORDS = ["Harbor Light", "Safe Passage", "New Dawn", "Open Door", "Morning Star", "Bridgeway",
            "Rising Hope", "Lantern", "True North", "Anchor Point", "Haven", "Freedom Path",
            "Clear Water", "Sunrise", "Kindred", "Northstar", "Beacon", "Crossroads",
            "Stillwater", "Silver Lining", "Open Hands", "Cedar Grove", "Firm Ground",
            "Evergreen", "Wayfinder", "Golden Thread", "Safe Harbor", "Lighthouse", "Resilience",
            "Courage", "Dignity", "Unbroken Chain", "Shelterwood", "Riverbend", "Bright Path",
            "Second Spring", "Hearthstone", "Solace", "Amber Gate", "Kite Hill", "Blue Heron",
            "Willow", "Steady Hands", "Common Ground", "Lodestar", "Threshold", "Good Harbour",
            "Wild Olive", "Paper Crane", "Oak & Ivy"]
# Types by kind of organization, per naming style; "{w}" is the word, "{t}" the type.
STYLES = {
    "en": {"pattern": "{w} {t}", "words": EN_WORDS, "types": {
        "shelter": ["Shelter", "Safe House", "House", "Refuge", "Home"],
        "legal": ["Legal Aid", "Law Center", "Legal Clinic", "Rights Project"],
        "hotline": ["Helpline", "Hotline", "Lifeline"],
        "health": ["Health Collective", "Clinic", "Wellness Center", "Care Network"],
        "reintegration": ["Reintegration Project", "Pathways Program", "Futures Trust",
                          "Return & Recovery"],
        "interpretation": ["Language Bridge", "Interpreters Collective", "Language Access"],
        "multi": ["Foundation", "Network", "Alliance", "Initiative", "Center", "Collective",
                  "Trust", "Coalition", "Outreach"]}},
    "es": {"pattern": "{t} {w}", "words": [
        "Nuevo Camino", "Esperanza", "Luz del Sur", "Puerta Abierta", "Manos Unidas", "Alba",
        "Refugio Sereno", "Camino Libre", "Raíces", "Semilla", "Horizonte", "Amanecer",
        "Brújula", "Puente", "Faro", "Corazón Valiente", "Tierra Firme", "Nueva Aurora",
        "Senda", "Abrazo", "Mariposa", "Colibrí"], "types": {
        "shelter": ["Refugio", "Casa", "Albergue", "Casa Hogar"],
        "legal": ["Clínica Jurídica", "Asistencia Legal", "Defensoría"],
        "hotline": ["Línea de Ayuda", "Línea"],
        "health": ["Centro de Salud", "Clínica"],
        "reintegration": ["Programa", "Fundación"],
        "interpretation": ["Intérpretes"],
        "multi": ["Fundación", "Red", "Alianza", "Colectivo", "Asociación", "Centro"]}},
    "pt": {"pattern": "{t} {w}", "words": [
        "Novo Horizonte", "Aurora", "Mãos Dadas", "Caminho Livre", "Porto Seguro", "Raízes",
        "Farol", "Travessia", "Semente", "Abraço", "Nova Esperança", "Bússola", "Ponte",
        "Alvorada", "Girassol", "Beija-Flor"], "types": {
        "shelter": ["Casa", "Abrigo", "Casa de Acolhida"],
        "legal": ["Núcleo Jurídico", "Assessoria Jurídica"],
        "hotline": ["Linha de Apoio"],
        "health": ["Centro de Saúde", "Clínica"],
        "reintegration": ["Instituto", "Programa"],
        "interpretation": ["Intérpretes"],
        "multi": ["Instituto", "Associação", "Rede", "Centro", "Coletivo", "Fundação"]}},
    "fr": {"pattern": "{t} {w}", "words": [
        "Nouvel Élan", "Lumière", "Porte Ouverte", "Chemin Libre", "Aube Nouvelle",
        "Main Tendue", "Horizon", "Boussole", "Phare", "Passerelle", "Racines",
        "Étoile du Matin", "Renaissance", "Refuge Serein", "Espoir", "Colombe"], "types": {
        "shelter": ["Foyer", "Maison", "Refuge"],
        "legal": ["Clinique Juridique", "Accès au Droit"],
        "hotline": ["Ligne d'Écoute"],
        "health": ["Centre de Santé", "Dispensaire"],
        "reintegration": ["Programme", "Association"],
        "interpretation": ["Interprètes"],
        "multi": ["Association", "Fondation", "Réseau", "Collectif", "Centre"]}},
    "de": {"pattern": "{w} {t}", "words": [
        "Lichtblick", "Neuer Weg", "Zuflucht", "Brücke", "Morgenrot", "Leuchtturm", "Kompass",
        "Wegweiser", "Sonnenhaus", "Anker"], "types": {
        "shelter": ["Schutzhaus", "Schutzwohnung"],
        "legal": ["Rechtsberatung"],
        "hotline": ["Hilfetelefon"],
        "health": ["Gesundheitszentrum", "Praxis"],
        "reintegration": ["Perspektiven e.V."],
        "interpretation": ["Sprachmittlung"],
        "multi": ["e.V.", "Fachberatung", "Netzwerk", "Beratungsstelle"]}},
    "it": {"pattern": "{t} {w}", "words": [
        "Nuova Strada", "Porta Aperta", "Alba", "Il Faro", "Approdo", "Orizzonte", "Girasole",
        "Ponte", "Rondine", "Mani Tese Insieme"], "types": {
        "shelter": ["Casa", "Casa Rifugio"],
        "legal": ["Sportello Legale"],
        "hotline": ["Numero Verde"],
        "health": ["Ambulatorio"],
        "reintegration": ["Progetto"],
        "interpretation": ["Mediazione Culturale"],
        "multi": ["Associazione", "Cooperativa Sociale", "Centro", "Rete"]}},
    "nl": {"pattern": "{t} {w}", "words": [
        "Nieuwe Dageraad", "Vuurtoren", "Open Deur", "Veilige Haven", "Kompas", "Brug",
        "Zonnebloem", "Ankerplaats"], "types": {
        "shelter": ["Opvanghuis", "Stichting"],
        "legal": ["Rechtswinkel"],
        "hotline": ["Hulplijn"],
        "health": ["Gezondheidscentrum"],
        "reintegration": ["Stichting"],
        "interpretation": ["Tolkencentrum"],
        "multi": ["Stichting", "Netwerk", "Centrum"]}},
    "ro": {"pattern": "{t} {w}", "words": [
        "Speranța", "Drum Nou", "Lumina", "Casa Deschisă", "Răsărit", "Busola", "Punte",
        "Aripi", "Izvor"], "types": {
        "shelter": ["Adăpostul", "Casa"],
        "legal": ["Clinica Juridică"],
        "hotline": ["Linia"],
        "health": ["Centrul Medical"],
        "reintegration": ["Programul"],
        "interpretation": ["Centrul de Interpretare"],
        "multi": ["Asociația", "Fundația", "Centrul", "Rețeaua"]}},
    "uk": {"pattern": "{t} «{w}»", "words": [
        ("Надія", "nadiia"), ("Світанок", "svitanok"), ("Джерело", "dzherelo"),
        ("Маяк", "maiak"), ("Крила", "kryla"), ("Довіра", "dovira"), ("Обрій", "obrii")],
     "types": {
        "shelter": ["Притулок"],
        "legal": ["Юридична клініка"],
        "hotline": ["Гаряча лінія"],
        "health": ["Центр здоров'я"],
        "reintegration": ["Програма"],
        "interpretation": ["Перекладацький центр"],
        "multi": ["Благодійний фонд", "Громадська організація", "Центр"]}},
    "sq": {"pattern": "{t} {w}", "words": [
        "Drita", "Shpresa", "Udha e Re", "Agimi", "Ura", "Dera e Hapur", "Ylli"], "types": {
        "shelter": ["Strehëza"],
        "legal": ["Klinika Ligjore"],
        "hotline": ["Linja"],
        "health": ["Qendra Shëndetësore"],
        "reintegration": ["Programi"],
        "interpretation": ["Qendra e Përkthimit"],
        "multi": ["Qendra", "Shoqata", "Fondacioni", "Rrjeti"]}},
    "pl": {"pattern": "{t} {w}", "words": [
        "Nowa Droga", "Latarnia", "Jutrzenka", "Kompas", "Most", "Przystań", "Nadzieja",
        "Otwarte Drzwi"], "types": {
        "shelter": ["Schronisko", "Dom"],
        "legal": ["Poradnia Prawna"],
        "hotline": ["Telefon Zaufania"],
        "health": ["Przychodnia"],
        "reintegration": ["Program"],
        "interpretation": ["Centrum Tłumaczeń"],
        "multi": ["Fundacja", "Stowarzyszenie", "Centrum", "Sieć"]}},
}

# What each kind of organization offers: (first service category choices, further choices).
ORG_KINDS = [
    ("shelter", 22, ["emergency_shelter"],
     ["case_management", "psychological_support", "long_term_housing", "medical", "education"]),
    ("multi", 24, ["case_management", "psychological_support", "legal", "emergency_shelter"],
     ["legal", "medical", "employment", "financial_aid", "hotline", "interpretation",
      "long_term_housing", "education"]),
    ("legal", 14, ["legal"], ["case_management", "interpretation", "repatriation"]),
    ("hotline", 9, ["hotline"], ["case_management", "psychological_support"]),
    ("health", 10, ["medical", "psychological_support"], ["psychological_support", "medical",
                                                         "case_management"]),
    ("reintegration", 13, ["repatriation", "employment"],
     ["education", "financial_aid", "employment", "case_management", "long_term_housing"]),
    ("interpretation", 4, ["interpretation"], ["legal", "case_management"]),
]

# Service catalogue: per category, names per language (first is English), a description, the
# eligibility, application and fee texts.
SERVICES = {
    "emergency_shelter": {
        "names": {"en": ["Emergency Shelter", "Safe House", "Crisis Accommodation"],
                  "es": ["Albergue de Emergencia"], "pt": ["Acolhimento Emergencial"],
                  "fr": ["Hébergement d'Urgence"]},
        "slug": "emergency-shelter",
        "desc": ["Short-term, staffed accommodation for survivors in immediate danger, with meals, "
                 "clothing, hygiene kits and a caseworker on call.",
                 "A secure place to stay for up to 90 days while survivors decide on next steps; "
                 "staff are present day and night."],
        "elig": "Adults and accompanied children who have experienced trafficking or are at "
                "immediate risk. No identity documents required.",
        "apply": "Call the 24/7 line; intake staff arrange a safe pick-up point. Referrals from "
                 "police, outreach teams and partner agencies are accepted at any hour.",
        "fees": "Free of charge."},
    "long_term_housing": {
        "names": {"en": ["Transitional Housing", "Supported Living Program"],
                  "es": ["Vivienda de Transición"], "pt": ["Moradia de Transição"],
                  "fr": ["Logement de Transition"]},
        "slug": "transitional-housing",
        "desc": ["Shared apartments for up to 18 months with weekly case management, budgeting "
                 "support and help finding permanent housing."],
        "elig": "Survivors who have completed an emergency stay or are referred by a partner "
                "caseworker.",
        "apply": "Referral by a caseworker, followed by an interview.",
        "fees": "No rent for the first six months; afterwards a contribution of up to 30% of "
                "income."},
    "legal": {
        "names": {"en": ["Legal Aid Clinic", "Immigration Legal Services", "Victim Rights Advocacy",
                         "Court Accompaniment"],
                  "es": ["Asesoría Jurídica Gratuita"], "pt": ["Orientação Jurídica"],
                  "fr": ["Permanence Juridique"]},
        "slug": "legal-aid",
        "desc": ["Free legal advice and representation: residence permits, labor claims for "
                 "unpaid wages, protection orders and compensation.",
                 "Lawyers and trained advocates explain survivors' rights, prepare statements and "
                 "accompany them to police interviews and court hearings."],
        "elig": "Survivors of trafficking and people who believe they were exploited, regardless "
                "of immigration status.",
        "apply": "Call or write to book an appointment; walk-ins during opening hours.",
        "fees": "Free of charge."},
    "case_management": {
        "names": {"en": ["Case Management", "Survivor Advocacy", "Reintegration Support"],
                  "es": ["Acompañamiento Integral"], "pt": ["Acompanhamento Psicossocial"],
                  "fr": ["Accompagnement Social"]},
        "slug": "case-management",
        "desc": ["A dedicated caseworker builds a safety and recovery plan with each survivor and "
                 "coordinates housing, health, legal and employment referrals."],
        "elig": "Identified or presumed survivors of trafficking, including minors with a "
                "guardian.",
        "apply": "Self-referral by phone or referral from any partner organization.",
        "fees": "Free of charge."},
    "psychological_support": {
        "names": {"en": ["Trauma Counseling", "Peer Support Groups", "Art Therapy"],
                  "es": ["Apoyo Psicológico"], "pt": ["Apoio Psicológico"],
                  "fr": ["Soutien Psychologique"]},
        "slug": "counseling",
        "desc": ["Individual and group counseling with trauma-informed therapists, in person or "
                 "by video.",
                 "Weekly peer support circles led by trained survivor facilitators."],
        "elig": "Survivors aged 12 and over; family members on request.",
        "apply": "Ask your caseworker or call to book a first conversation.",
        "fees": "Free of charge."},
    "medical": {
        "names": {"en": ["Medical Clinic", "Sexual & Reproductive Health", "Mobile Health Outreach"],
                  "es": ["Atención Médica"], "pt": ["Atendimento de Saúde"],
                  "fr": ["Consultations Médicales"]},
        "slug": "health",
        "desc": ["General medical care, sexual and reproductive health, screening and "
                 "vaccinations; nurses can accompany survivors to hospital appointments."],
        "elig": "Anyone referred as a survivor of trafficking; no insurance needed.",
        "apply": "Walk in during opening hours or book through a caseworker.",
        "fees": "Free; medicines covered by a hardship fund."},
    "hotline": {
        "names": {"en": ["24/7 Helpline", "Anti-Trafficking Hotline", "Text & Chat Line"],
                  "es": ["Línea de Ayuda 24 Horas"], "pt": ["Linha de Apoio 24 Horas"],
                  "fr": ["Ligne d'Écoute 24h/24"]},
        "slug": "hotline",
        "desc": ["Free, confidential line answered day and night by trained staff. Callers can "
                 "report suspected trafficking, ask for help or find a shelter bed.",
                 "Confidential phone, text and chat support for survivors, families and "
                 "frontline workers, with interpreters on request."],
        "elig": "Anyone: survivors, family members, witnesses and professionals.",
        "apply": "Call or send a text at any time.",
        "fees": "Free of charge; calls are not billed."},
    "interpretation": {
        "names": {"en": ["Interpretation Services", "Community Interpreters"],
                  "es": ["Servicio de Interpretación"], "pt": ["Serviço de Interpretação"],
                  "fr": ["Interprétariat"]},
        "slug": "interpretation",
        "desc": ["Trained interpreters for appointments with police, lawyers, doctors and "
                 "caseworkers, in person or by phone; interpreters sign a confidentiality "
                 "agreement."],
        "elig": "Survivors and the partner organizations serving them.",
        "apply": "Partner staff book at least one day ahead; urgent requests by phone.",
        "fees": "Free for survivors; partner organizations may be invoiced."},
    "employment": {
        "names": {"en": ["Job Readiness Program", "Vocational Training"],
                  "es": ["Formación para el Empleo"], "pt": ["Capacitação Profissional"],
                  "fr": ["Insertion Professionnelle"]},
        "slug": "employment",
        "desc": ["Skills training, CV workshops and supported job placements with vetted "
                 "employers."],
        "elig": "Survivors aged 16 and over with the right to work or a pending application.",
        "apply": "Referral by a caseworker; intake sessions start every month.",
        "fees": "Free; travel costs reimbursed."},
    "education": {
        "names": {"en": ["Catch-up Education", "Literacy Classes"],
                  "es": ["Educación Flexible"], "pt": ["Reforço Escolar"],
                  "fr": ["Remise à Niveau Scolaire"]},
        "slug": "education",
        "desc": ["Literacy, numeracy and language classes, and help re-enrolling children in "
                 "school."],
        "elig": "Survivors and their children.",
        "apply": "Register in person or through a caseworker.",
        "fees": "Free of charge; materials provided."},
    "repatriation": {
        "names": {"en": ["Safe Return & Reintegration", "Family Tracing & Repatriation"],
                  "es": ["Retorno Seguro"], "pt": ["Retorno Seguro"],
                  "fr": ["Retour Volontaire et Réinsertion"]},
        "slug": "safe-return",
        "desc": ["Help for survivors who choose to return home: travel documents, escorted "
                 "travel, family tracing and a reintegration plan with a partner in the country "
                 "of origin."],
        "elig": "Foreign national survivors who wish to return, after a risk assessment.",
        "apply": "Referral by a caseworker or embassy; assessment within two weeks.",
        "fees": "Free of charge."},
    "financial_aid": {
        "names": {"en": ["Emergency Cash Assistance", "Microgrant Program"],
                  "es": ["Apoyo Económico"], "pt": ["Auxílio Financeiro"],
                  "fr": ["Aide Financière d'Urgence"]},
        "slug": "financial-aid",
        "desc": ["One-off grants for urgent needs (rent, transport, documents) and small grants "
                 "to start a business after training."],
        "elig": "Survivors enrolled in case management.",
        "apply": "Your caseworker submits a short application; decisions within five days.",
        "fees": "None."},
}
# Categories often paired with a service's first category.
PAIRED = {"emergency_shelter": ["case_management", "psychological_support"],
          "long_term_housing": ["case_management", "employment"],
          "legal": ["case_management"], "hotline": ["case_management", "interpretation"],
          "medical": ["psychological_support"], "repatriation": ["case_management"],
          "employment": ["education", "financial_aid"], "interpretation": ["legal"]}

LEGAL_STATUS = ["Registered charity", "Non-governmental organization", "Nonprofit corporation",
                "Foundation", "Community-based organization", "Faith-based organization",
                "Cooperative", "Association"]

ORG_VERBS = ["supports", "works alongside", "protects and accompanies", "stands with",
             "provides practical help to"]
FOCUS = {
    "sex_trafficking": "survivors of sexual exploitation",
    "labor_trafficking": "workers trapped in forced labor and debt bondage",
    "minors": "children and young people at risk of trafficking",
    "foreign_nationals": "migrants and foreign nationals who were trafficked",
    "women": "women and girls escaping exploitation",
    "men": "men exploited in construction, fishing and agriculture",
    "lgbtq": "LGBTQ+ survivors",
    "families": "families affected by trafficking",
    "disabled": "survivors with disabilities",
    "adults": "adult survivors of trafficking",
}

LOC_NOTES = ["Wheelchair accessible; entrance at street level.",
             "Entrance at the back of the building; ring the bell marked with the logo.",
             "Second floor, above the pharmacy.", "Near the main bus station.",
             "Ask for the duty caseworker at reception."]
ADDRESS_2 = ["Floor 2", "Unit 4B", "Suite 210", "Building C", "Room 12", "Back entrance"]


def fold_ascii(s):
    """'Refugio Sereno' -> 'refugiosereno'; accents dropped, other characters removed."""
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s.lower() if c.isascii() and c.isalnum())


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------

def fresh_uuid(rng, ids):
    """A random version 4 UUID from `rng` not yet in `ids` (added to it)."""
    while True:
        u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if u not in ids:
            ids.add(u)
            return u


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.ids = set()
        self.names = set()
        self.hosts = set()
        self.numbers = set()

    # Helpers -------------------------------------------------------------------------------

    def uid(self):
        return fresh_uuid(self.rng, self.ids)

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, xs):
        return xs[self.rng.randrange(len(xs))]

    def weighted(self, pairs):
        return self.rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]

    def phone_number(self, country, city):
        opts = city[4]
        for _ in range(10000):
            if country["cc"] == "1":
                n = "+1%s55501%02d" % (opts["area"], self.rng.randrange(100))
            elif "fixed" in opts:
                # A range set aside for drama: "442079460xxx" -> +44 20 7946 0123
                prefix = opts["fixed"].rstrip("x")
                width = len(opts["fixed"]) - len(prefix)
                n = "+" + prefix + "%0*d" % (width, self.rng.randrange(10 ** width))
            else:
                n = "+%s8005550%03d" % (country["cc"], self.rng.randrange(1000))
            if n not in self.numbers:
                self.numbers.add(n)
                return n
        raise RuntimeError("out of fictional phone numbers for " + city[0])

    def postal(self, fmt):
        out = []
        for ch in fmt:
            if ch == "#":
                out.append(str(self.rng.randrange(10)))
            elif ch == "A":
                out.append(self.pick("ABCDEFGHJKLMNPRSTUVWXY"))
            else:
                out.append(ch)
        return "".join(out)

    def coord(self, base, spread):
        return round(base + (self.rng.random() * 2 - 1) * spread, 5)

    # Records -------------------------------------------------------------------------------

    def org_name(self, country, style, kind, city):
        for attempt in range(200):
            if style == "local":
                word = self.pick(country["local_words"])
                slug_word = fold_ascii(word)
                types = STYLES["en"]["types"]
                t = self.pick(types.get(kind, types["multi"]))
                name = "%s %s" % (word, t)
            else:
                st = STYLES[style]
                word = self.pick(st["words"])
                if isinstance(word, tuple):
                    word, slug_word = word
                else:
                    slug_word = fold_ascii(word)
                t = self.pick(st["types"].get(kind) or st["types"]["multi"])
                name = st["pattern"].format(w=word, t=t)
            if attempt >= 20:
                name = "%s %s" % (name, city[0])
            if attempt >= 60:
                name = "%s %d" % (name, attempt - 58)
            if name not in self.names:
                self.names.add(name)
                return name, slug_word, t
        raise RuntimeError("no free name")

    def host(self, slug_word, type_word, country):
        tld = "example.org" if self.chance(0.75) else "example.net"
        cc = country["code"].lower()
        candidates = [slug_word, slug_word + fold_ascii(type_word)[:10]]
        candidates += ["%s%d" % (slug_word, i) for i in range(2, 200)]
        for c in candidates:
            h = "%s-%s.%s" % (c, cc, tld)
            if h not in self.hosts:
                self.hosts.add(h)
                return h
        raise RuntimeError("no free host name")

    def languages_for(self, country, city, populations):
        """Language codes offered: the country's main one(s), the city's, and for foreign
        nationals one or two languages of origin."""
        codes = [country["langs"][0]]
        if len(country["langs"]) > 1 and self.chance(0.5):
            codes.append(self.pick(country["langs"][1:]))
        extra = city[4].get("lang")
        if extra and self.chance(0.35):
            codes.append(extra)
        if country["diaspora"] and ("foreign_nationals" in populations or self.chance(0.25)):
            codes.append(self.pick(country["diaspora"]))
            if self.chance(0.25):
                codes.append(self.pick(country["diaspora"]))
        if country["code"] not in ("US", "GB", "CA", "AU") and "en" not in codes and \
                self.chance(0.2):
            codes.append("en")
        out = []
        for c in codes:
            if c not in out:
                out.append(c)
        return out

    def language_records(self, codes, main):
        recs = []
        for c in codes:
            rec = {"id": self.uid(), "name": LANGUAGE_NAMES[c], "code": c}
            if c not in main:
                rec["note"] = self.pick(["Interpreter on request; allow one day.",
                                         "Staff member speaks %s on weekdays." % LANGUAGE_NAMES[c],
                                         "Interpreter by phone at any time."])
            recs.append(rec)
        return recs

    def phone(self, country, city, ptype, desc, langs, ext=None):
        rec = {"id": self.uid(), "number": self.phone_number(country, city), "type": ptype}
        if desc:
            rec["description"] = desc
        if langs:
            rec["languages"] = list(langs)
        if ext:
            rec["extension"] = int(ext)
        return rec

    def schedule(self, around_the_clock):
        if around_the_clock:
            return [{"id": self.uid(), "freq": "WEEKLY", "byday": list(DAYS), "opens_at": "00:00",
                     "closes_at": "23:59", "description": "Open 24 hours, 7 days a week."}]
        opens = self.pick(["08:00", "08:30", "09:00", "09:00", "09:30", "10:00"])
        closes = self.pick(["16:00", "16:30", "17:00", "17:00", "17:30", "18:00", "19:00"])
        days = self.pick([DAYS[:5], DAYS[:5], DAYS[:5], DAYS[:4], ["MO", "WE", "FR"],
                          ["TU", "TH"], DAYS[1:6]])
        out = [{"id": self.uid(), "freq": "WEEKLY", "byday": list(days), "opens_at": opens,
                "closes_at": closes,
                "description": "%s %s–%s" % (_day_range(days), opens, closes)}]
        if self.chance(0.1) and "SA" not in days:
            out.append({"id": self.uid(), "freq": "WEEKLY", "byday": ["SA"], "opens_at": "10:00",
                        "closes_at": "14:00", "description": "Saturday 10:00–14:00"})
        if self.chance(0.05):
            out[0]["notes"] = "Closed on public holidays."
        return out

    def location(self, country, city, name, confidential, description=None):
        fmt, streets = country["street"]
        addr = fmt.format(n=self.rng.randrange(1, 240), m=self.rng.randrange(10, 99),
                          k=self.rng.randrange(1, 20), s=self.pick(streets))
        spread = 0.06 if confidential else 0.04
        rec = {"id": self.uid(), "name": name, "location_type": "physical", "address_1": addr,
               "city": city[0], "country": country["code"],
               "latitude": self.coord(city[2], spread), "longitude": self.coord(city[3], spread)}
        if city[1]:
            rec["state_province"] = city[1]
        if country["postal"]:
            rec["postal_code"] = self.postal(country["postal"])
        if self.chance(0.15):
            rec["address_2"] = self.pick(ADDRESS_2)
        if confidential:
            rec["address_confidential"] = True
            rec["description"] = ("Confidential address: shared only with vetted partner "
                                  "caseworkers. Call the 24/7 line for intake.")
        elif description:
            rec["description"] = description
        elif self.chance(0.25):
            rec["description"] = self.pick(LOC_NOTES)
        return rec

    def organization(self, country):
        rng = self.rng
        city = self.pick(country["cities"])
        style = self.weighted(country["styles"])
        kind_row = self.weighted([(k, k[1]) for k in ORG_KINDS])
        kind, _, first_cats, more_cats = kind_row
        name, slug_word, type_word = self.org_name(country, style, kind, city)
        host = self.host(slug_word, type_word, country)
        lang_style = style if style in ("es", "pt", "fr") else "en"

        pops = set(rng.sample(POPULATIONS, rng.randint(2, 5)))
        if kind == "shelter" and self.chance(0.5):
            pops.add("women")
        if country["diaspora"] and self.chance(0.6):
            pops.add("foreign_nationals")
        pops.add(self.pick(["sex_trafficking", "labor_trafficking"]))
        populations = sorted(pops)

        org = {"id": self.uid(), "name": name,
               "description": "", "email": "%s@%s" % (self.pick(["info", "contact", "hello",
                                                                  "office"]), host),
               "website": "https://%s" % host,
               "countries_served": [country["code"]], "populations_served": populations}
        served = [country["code"]]
        if country["neighbors"] and self.chance(0.3):
            served += rng.sample(country["neighbors"],
                                 rng.randint(1, min(2, len(country["neighbors"]))))
        org["countries_served"] = sorted(set(served))
        words = [w for w in re.split(r"[\s«»]+", name) if w[:1].isalpha()]
        if len(words) >= 3 and self.chance(0.4):
            acronym = "".join(w[0] for w in words if w[0].isupper())
            if len(acronym) >= 2 and acronym.isascii():
                org["alternate_name"] = acronym
        if self.chance(0.85):
            org["legal_status"] = self.pick(LEGAL_STATUS)
        if self.chance(0.9):
            org["year_incorporated"] = rng.randint(1978, 2024)

        # Services ----------------------------------------------------------------------
        n_services = self.weighted([(1, 56), (2, 36), (3, 8)])
        cats = [self.pick(first_cats)]
        pool = [c for c in more_cats if c not in cats]
        while len(cats) < n_services and pool:
            c = self.pick(pool)
            pool.remove(c)
            cats.append(c)

        # Locations: the main office, a shelter site for shelter services, sometimes a branch.
        office = self.location(country, city, "%s — %s office" % (name, city[0]), False)
        locations = [office]
        shelter_loc = None
        if any(c in ("emergency_shelter", "long_term_housing") for c in cats) and \
                self.chance(0.8):
            confidential = self.chance(0.15)
            if confidential:
                lname = "Confidential shelter (%s area)" % city[0]
            else:
                lname = "%s — residence" % name
            shelter_loc = self.location(country, city, lname, confidential)
            locations.append(shelter_loc)
        branch = None
        if self.chance(0.15) and len(country["cities"]) > 1:
            other = self.pick([c for c in country["cities"] if c[0] != city[0]])
            branch = self.location(country, other, "%s — %s branch" % (name, other[0]), False)
            locations.append(branch)

        main_langs = country["langs"][:1] + ([city[4]["lang"]] if city[4].get("lang") else [])
        org_langs = self.languages_for(country, city, populations)

        services = []
        hotline_number_needed = False
        for cat in cats:
            spec = SERVICES[cat]
            names = spec["names"].get(lang_style) or spec["names"]["en"]
            sname = self.pick(names if self.chance(0.7) else spec["names"]["en"])
            if any(s["name"] == sname for s in services):
                sname = "%s (%s)" % (sname, city[0])
            categories = [cat]
            if cat in PAIRED and self.chance(0.35):
                categories.append(self.pick(PAIRED[cat]))
            s_pops = sorted(p for p in populations if self.chance(0.75)) or populations[:1]
            around = cat in ("hotline", "emergency_shelter")
            status = self.weighted([("active", 90), ("temporarily closed", 6), ("inactive", 3),
                                    ("defunct", 1)])
            svc = {"id": self.uid(), "name": sname,
                   "description": self.pick(spec["desc"]),
                   "status": status, "categories": sorted(set(categories),
                                                          key=CATEGORIES.index),
                   "populations_served": s_pops, "available_24_7": around,
                   "eligibility_description": spec["elig"],
                   "application_process": spec["apply"]}
            if self.chance(0.8):
                svc["fees_description"] = spec["fees"]
            if status == "temporarily closed":
                svc["description"] += " Temporarily closed while the team relocates."
            if self.chance(0.5):
                svc["url"] = "https://%s/%s" % (host, spec["slug"])
            if self.chance(0.3):
                svc["email"] = "%s@%s" % (spec["slug"], host)
            if cat == "repatriation" or self.chance(0.1):
                svc["countries_served"] = org["countries_served"]
            if cat in ("emergency_shelter", "long_term_housing"):
                total = rng.randint(6, 60) if cat == "emergency_shelter" else rng.randint(4, 30)
                svc["capacity_beds_total"] = total
                svc["capacity_beds_available"] = 0 if status != "active" else \
                    rng.randint(0, max(1, total // 3))
            # Languages offered, and the phones that speak them.
            s_langs = [c for c in org_langs if c in main_langs or self.chance(0.4)] or \
                org_langs[:1]
            svc["languages"] = self.language_records(s_langs, main_langs)
            phones = []
            if cat == "hotline":
                phones.append(self.phone(country, city, "voice",
                                         "24/7 hotline — free and confidential", s_langs))
                if self.chance(0.5):
                    phones.append(self.phone(country, city, "text",
                                             "Text or WhatsApp at any hour", s_langs[:2]))
            elif cat == "emergency_shelter" and self.chance(0.7):
                phones.append(self.phone(country, city, "voice",
                                         "Intake line, answered day and night", s_langs))
            elif self.chance(0.45):
                ext = str(rng.randint(10, 299)) if self.chance(0.15) else None
                phones.append(self.phone(country, city, self.pick(["voice", "voice", "cell"]),
                                         None if self.chance(0.4) else "Appointments", s_langs,
                                         ext))
            if phones:
                svc["phones"] = phones
            if around and not phones:
                hotline_number_needed = True
            svc["schedules"] = self.schedule(around)
            # Where the service is offered.
            if cat in ("emergency_shelter", "long_term_housing") and shelter_loc:
                at = [shelter_loc]
            else:
                at = [office]
                if branch and self.chance(0.5):
                    at.append(branch)
            sals = []
            for loc in at:
                sal = {"id": self.uid(), "location_id": loc["id"]}
                if loc.get("address_confidential"):
                    sal["description"] = "Intake by referral only; the address is confidential."
                elif loc is branch:
                    sal["description"] = "Outreach days at the branch."
                sals.append(sal)
            svc["service_at_locations"] = sals
            services.append(svc)
        org["services"] = services

        # Organization-level phones: the main line, a 24/7 line for organizations with
        # round-the-clock services and no service number, occasionally a fax.
        org_phones = []
        if hotline_number_needed or (kind in ("shelter", "hotline") and self.chance(0.4)):
            org_phones.append(self.phone(country, city, "voice", "24/7 emergency line",
                                         org_langs))
        has_phone = any(s.get("phones") for s in services) or org_phones
        if not has_phone or self.chance(0.3):
            org_phones.append(self.phone(country, city, "voice", "Main office line",
                                         org_langs[:2]))
        if self.chance(0.05):
            org_phones.append(self.phone(country, city, "fax", "Fax", None))
        if org_phones:
            org["phones"] = org_phones

        # Some locations carry their own reception line, hours or languages.
        for loc in locations:
            if loc.get("address_confidential"):
                continue
            loc_city = city
            if loc is branch:
                loc_city = next(c for c in country["cities"] if c[0] == loc["city"])
            if self.chance(0.08):
                loc["phones"] = [self.phone(country, loc_city, "voice", "Reception",
                                            org_langs[:1])]
            if (loc is branch and self.chance(0.5)) or self.chance(0.06):
                loc["schedules"] = self.schedule(False)
            if self.chance(0.05):
                loc["languages"] = self.language_records(org_langs[:2], main_langs)
        org["locations"] = locations

        # The description, now that the services are known.
        focus = [FOCUS[p] for p in populations if p in FOCUS][:2]
        offered = sorted({c for s in services for c in s["categories"]}, key=CATEGORIES.index)
        offered_words = [c.replace("_", " ") for c in offered]
        since = " since %d" % org["year_incorporated"] if "year_incorporated" in org else ""
        org["description"] = (
            "%s %s %s in %s%s%s. Services: %s. Fictional sample record — not a real "
            "organization." % (name, self.pick(ORG_VERBS), " and ".join(focus), city[0],
                               ", " + country["name"] if city[0] != country["name"] else "",
                               since, ", ".join(offered_words)))
        return org

    def document(self, n_orgs):
        order = []
        # One organization in each country first (so even a small --orgs spans many countries),
        # then the rest by weight.
        for c in COUNTRIES[:n_orgs]:
            order.append(c)
        rest = n_orgs - len(order)
        if rest > 0:
            order += self.rng.choices(COUNTRIES, weights=[c["weight"] for c in COUNTRIES],
                                      k=rest)
        orgs = [self.organization(c) for c in order]
        return {"hsds_version": "3.0", "generator": GENERATOR, "description": DOC_DESCRIPTION,
                "organizations": orgs}


def _day_range(days):
    names = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat",
             "SU": "Sun"}
    idx = [DAYS.index(d) for d in days]
    if len(days) > 2 and idx == list(range(idx[0], idx[0] + len(idx))):
        return "%s–%s" % (names[days[0]], names[days[-1]])
    return ", ".join(names[d] for d in days)


# ---------------------------------------------------------------------------------------------
# HSDS 3.0 shape: the generated records as compiled (dereferenced) organizations, the shape of
# the official examples/organization_full.json. A mirror of agents/hsds_model.h: the same derived
# ids and the same Switchboard taxonomy, so that what an agent exports is this file again.
# ---------------------------------------------------------------------------------------------

SWITCHBOARD_TAXONOMY_ID = "5b0a7c1e-6f2d-8c8b-9a3e-53574954434a"
SWITCHBOARD_TAXONOMY = {
    "id": SWITCHBOARD_TAXONOMY_ID, "name": "Switchboard anti-trafficking services",
    "description": ("Categories of help and populations served in anti-trafficking resource "
                    "directories (published by Switchboard)"),
    "version": "1"}
TERMS = {
    "category": {
        "emergency_shelter": ("Emergency shelter",
                              "Safe accommodation available at short notice"),
        "long_term_housing": ("Long-term housing", "Transitional or long-term accommodation"),
        "legal": ("Legal services",
                  "Legal advice and representation, including immigration relief"),
        "case_management": ("Case management", "Coordination of services for a survivor"),
        "psychological_support": ("Psychological support",
                                  "Counselling and mental health care"),
        "medical": ("Medical care", "Health care and medical services"),
        "hotline": ("Hotline", "A telephone or text line answering at need"),
        "interpretation": ("Interpretation", "Interpreters and translation"),
        "employment": ("Employment", "Job training and placement"),
        "education": ("Education", "Schooling and education support"),
        "repatriation": ("Repatriation", "Safe return to the country of origin"),
        "financial_aid": ("Financial aid", "Money for immediate needs"),
    },
    "population": {
        "sex_trafficking": ("Survivors of sex trafficking",
                            "People trafficked for sexual exploitation"),
        "labor_trafficking": ("Survivors of labor trafficking",
                              "People trafficked for forced labor"),
        "minors": ("Minors", "People under 18"),
        "adults": ("Adults", "People 18 and over"),
        "women": ("Women", "Women and girls"),
        "men": ("Men", "Men and boys"),
        "lgbtq": ("LGBTQ+ people", "Lesbian, gay, bisexual, transgender and queer people"),
        "foreign_nationals": ("Foreign nationals",
                              "People who are not citizens of the country"),
        "families": ("Families", "Families with children"),
        "disabled": ("People with disabilities",
                     "People with physical or mental disabilities"),
    },
}
ALL_WEEK = "MO,TU,WE,TH,FR,SA,SU"


def derived_id(record_id, purpose):
    """agents/hsds_model.cpp DerivedId: BLAKE2b-128 of length-prefixed parts, as a version 8
    UUID."""
    import hashlib
    h = hashlib.blake2b(digest_size=16)
    for part in ("switchboard hsds derived id v1", record_id, purpose):
        b = part.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    d = bytearray(h.digest())
    d[6] = (d[6] & 0x0F) | 0x80
    d[8] = (d[8] & 0x3F) | 0x80
    x = d.hex()
    return "%s-%s-%s-%s-%s" % (x[:8], x[8:12], x[12:16], x[16:20], x[20:])


def term(group, code):
    name, description = TERMS[group][code]
    return {"id": derived_id(SWITCHBOARD_TAXONOMY_ID, group + ":" + code),
            "code": group + ":" + code, "name": name, "description": description,
            "taxonomy": "Switchboard", "taxonomy_id": SWITCHBOARD_TAXONOMY_ID}


def attributes(record_id, entity, categories=(), populations=()):
    out = []
    for group, codes in (("category", categories), ("population", populations)):
        for code in codes:
            t = term(group, code)
            out.append({"id": derived_id(record_id, group + ":" + code),
                        "link_entity": entity, "taxonomy_term_id": t["id"],
                        "taxonomy_term": t})
    return out


def byday_text(days):
    return ",".join(sorted(days, key=DAYS.index))


class HsdsShaper:
    """Turns the generator's records into HSDS 3.0 objects, adding the kinds the first
    generator did not make (contacts, programs, funding, identifiers, accessibility, required
    documents, cost options, further addresses) from a random stream of their own, so that the
    records above stay the same for a seed."""

    def __init__(self, seed, ids):
        self.rng = random.Random(seed * 7919 + 11)
        self.ids = ids

    def uid(self):
        return fresh_uuid(self.rng, self.ids)

    def chance(self, p):
        return self.rng.random() < p

    def schedule(self, s):
        out = dict(s)
        out["byday"] = byday_text(s["byday"])
        return out

    def phone(self, p):
        out = {k: v for k, v in p.items() if k != "languages"}
        langs = p.get("languages") or []
        if langs:
            out["languages"] = [{"id": derived_id(p["id"], "language:" + c), "code": c}
                                for c in langs]
        return out

    def location(self, loc, org):
        out = {k: loc[k] for k in ("id", "name", "location_type", "description", "latitude",
                                   "longitude") if k in loc}
        addr = {"id": derived_id(loc["id"], "address"), "address_1": loc["address_1"],
                "city": loc["city"], "state_province": loc.get("state_province", ""),
                "postal_code": loc.get("postal_code", ""), "country": loc["country"],
                "address_type": "physical"}
        if "address_2" in loc:
            addr["address_2"] = loc["address_2"]
        out["addresses"] = [addr]
        if loc.get("address_confidential"):
            out["address_confidential"] = True
        elif self.chance(0.08):
            # A postal address besides the street one: an `address` record of its own.
            out["addresses"].append({
                "id": self.uid(), "attention": "Intake team",
                "address_1": "PO Box %d" % self.rng.randrange(100, 9999), "city": loc["city"],
                "state_province": loc.get("state_province", ""),
                "postal_code": loc.get("postal_code", ""), "country": loc["country"],
                "address_type": "postal"})
        if not loc.get("address_confidential") and self.chance(0.3):
            out["accessibility"] = [{
                "id": self.uid(),
                "description": self.rng.choice(["Step-free entrance", "Lift to all floors",
                                                "Accessible toilet on the ground floor"]),
                "details": "Ask at reception for assistance."}]
        for key in ("phones", "schedules", "languages"):
            if key in loc:
                conv = self.phone if key == "phones" else \
                    self.schedule if key == "schedules" else dict
                out[key] = [conv(x) for x in loc[key]]
        return out

    def service(self, svc, locations):
        keep = ("id", "name", "alternate_name", "description", "url", "email", "status",
                "eligibility_description", "application_process", "fees_description")
        out = {k: svc[k] for k in keep if k in svc}
        attrs = attributes(svc["id"], "service", svc.get("categories", []),
                           svc.get("populations_served", []))
        if attrs:
            out["attributes"] = attrs
        if svc.get("countries_served"):
            out["service_areas"] = [
                {"id": derived_id(svc["id"], "country:" + c), "name": c, "extent": c,
                 "extent_type": "text", "description": "Country served (ISO 3166-1 alpha-2)"}
                for c in svc["countries_served"]]
        schedules = [self.schedule(x) for x in svc.get("schedules", [])]
        if svc.get("available_24_7"):
            # 24/7 is the derived schedule (agents/hsds_model.h), not one of its own.
            schedules = [x for x in schedules
                         if not (x.get("byday") == ALL_WEEK and x.get("opens_at") == "00:00")]
            schedules.insert(0, {"id": derived_id(svc["id"], "24_7"), "freq": "WEEKLY",
                                 "byday": ALL_WEEK, "opens_at": "00:00", "closes_at": "23:59",
                                 "description": "Open 24 hours a day, 7 days a week"})
        if schedules:
            out["schedules"] = schedules
        if "capacity_beds_total" in svc:
            out["capacities"] = [{"id": derived_id(svc["id"], "capacity:bed"), "unit": "Bed",
                                  "available": svc["capacity_beds_available"],
                                  "maximum": svc["capacity_beds_total"]}]
        if "phones" in svc:
            out["phones"] = [self.phone(p) for p in svc["phones"]]
        if "languages" in svc:
            out["languages"] = [dict(x) for x in svc["languages"]]
        if "service_at_locations" in svc:
            out["service_at_locations"] = []
            for sal in svc["service_at_locations"]:
                o = {"id": sal["id"], "location": locations[sal["location_id"]]}
                if "description" in sal:
                    o["description"] = sal["description"]
                out["service_at_locations"].append(o)
        cats = svc.get("categories", [])
        if "legal" in cats or "repatriation" in cats:
            out["required_documents"] = [{"id": self.uid(), "document": self.rng.choice([
                "Any identity document you have; none is needed to ask for help",
                "Nothing: bring papers only if it is safe to"])}]
        if "interpretation" in cats and self.chance(0.5):
            out["cost_options"] = [{"id": self.uid(), "option": "Interpretation by phone",
                                    "amount": 0, "currency": "USD",
                                    "amount_description": "Free for survivors"}]
        return out

    def organization(self, org):
        keep = ("id", "name", "alternate_name", "description", "email", "website",
                "legal_status", "year_incorporated")
        out = {k: org[k] for k in keep if k in org}
        if org.get("countries_served"):
            out["countries_served"] = org["countries_served"]  # additional property
        locations = {loc["id"]: self.location(loc, org) for loc in org.get("locations", [])}
        if locations:
            out["locations"] = list(locations.values())
        if org.get("phones"):
            out["phones"] = [self.phone(p) for p in org["phones"]]
        out["services"] = [self.service(s, locations) for s in org.get("services", [])]
        host = org.get("website", "https://example.org").split("//", 1)[-1]
        out["contacts"] = [{"id": self.uid(), "name": "Intake coordinator",
                            "title": self.rng.choice(["Intake coordinator", "Case manager",
                                                      "Program director"]),
                            "department": "Intake", "email": "intake@" + host}]
        if self.chance(0.3):
            prog_id = self.uid()
            program = {"id": prog_id, "name": "Survivor support program",
                       "description": "Coordinated services for survivors of trafficking."}
            out["programs"] = [program]
            for svc in out["services"][:2]:
                svc["program"] = dict(program)
        if self.chance(0.5):
            out["funding"] = [{"id": self.uid(), "source": self.rng.choice([
                "Private donations", "National government grant", "Foundation grant",
                "Municipal contract"])}]
        if self.chance(0.4):
            out["organization_identifiers"] = [{
                "id": self.uid(), "identifier_scheme": "XI-SB",
                "identifier_type": "Registration number",
                "identifier": "%08d" % self.rng.randrange(10 ** 7, 10 ** 8)}]
        attrs = attributes(org["id"], "organization", (), org.get("populations_served", []))
        if attrs:
            out["attributes"] = attrs
        return out


def to_hsds(doc, seed):
    """The generated document as a JSON array of compiled HSDS 3.0 organizations."""
    ids = set()
    for rid, *_ in flatten(doc):
        ids.add(rid)
    shaper = HsdsShaper(seed, ids)
    return [shaper.organization(o) for o in doc["organizations"]]


# The nesting of the compiled shape (agents/hsds_model.cpp Nesting): parent kind -> property ->
# (child kind, link field, one object (True) or a list, whether the parent holds the link).
HSDS_NESTING = {
    "organization": {"funding": ("funding", "organization_id", False, False),
                     "contacts": ("contact", "organization_id", False, False),
                     "phones": ("phone", "organization_id", False, False),
                     "locations": ("location", "organization_id", False, False),
                     "programs": ("program", "organization_id", False, False),
                     "organization_identifiers": ("organization_identifier", "organization_id",
                                                  False, False),
                     "services": ("service", "organization_id", False, False)},
    "service": {"phones": ("phone", "service_id", False, False),
                "schedules": ("schedule", "service_id", False, False),
                "service_areas": ("service_area", "service_id", False, False),
                "service_at_locations": ("service_at_location", "service_id", False, False),
                "languages": ("language", "service_id", False, False),
                "organization": ("organization", "organization_id", True, True),
                "funding": ("funding", "service_id", False, False),
                "cost_options": ("cost_option", "service_id", False, False),
                "program": ("program", "program_id", True, True),
                "required_documents": ("required_document", "service_id", False, False),
                "contacts": ("contact", "service_id", False, False)},
    "location": {"languages": ("language", "location_id", False, False),
                 "addresses": ("address", "location_id", False, False),
                 "contacts": ("contact", "location_id", False, False),
                 "accessibility": ("accessibility", "location_id", False, False),
                 "phones": ("phone", "location_id", False, False),
                 "schedules": ("schedule", "location_id", False, False)},
    "service_at_location": {
        "contacts": ("contact", "service_at_location_id", False, False),
        "phones": ("phone", "service_at_location_id", False, False),
        "schedules": ("schedule", "service_at_location_id", False, False),
        "location": ("location", "location_id", True, True),
        "service": ("service", "service_id", True, True)},
    "contact": {"phones": ("phone", "contact_id", False, False)},
    "phone": {"languages": ("language", "phone_id", False, False)},
    "attribute": {"taxonomy_term": ("taxonomy_term", "taxonomy_term_id", True, True)},
    "taxonomy_term": {"taxonomy_detail": ("taxonomy", "taxonomy_id", True, True)},
}
for _k in ("organization", "service", "location", "service_at_location", "contact", "phone",
           "address", "schedule", "language", "accessibility", "service_area", "funding",
           "cost_option", "program", "required_document", "organization_identifier"):
    HSDS_NESTING.setdefault(_k, {})["attributes"] = ("attribute", "link_id", False, False)


def flatten_hsds(doc, problems=None):
    """Every HSDS object of a compiled document (an object, an array of them, or a Page) once:
    {id: (kind, properties with the links nesting implies, first JSON path)}. An object
    embedded in several places must be the same everywhere; `metadata` is left out."""
    out = {}

    def problem(where, msg):
        if problems is not None:
            problems.append("%s: %s" % (where, msg))

    def read(obj, kind, where, link=None):
        if not isinstance(obj, dict):
            return problem(where, "must be an object")
        rid = obj.get("id")
        if not isinstance(rid, str):
            return problem(where, 'has no text "id"')
        nested = HSDS_NESTING.get(kind, {})
        fields = {k: v for k, v in obj.items() if k not in nested and k != "metadata"}
        if link:
            fields.setdefault(link[0], link[1])
        for key, (child, link_field, one, parent_holds) in nested.items():
            if key not in obj:
                continue
            if one:
                c = obj[key]
                if isinstance(c, dict) and isinstance(c.get("id"), str):
                    fields.setdefault(link_field, c["id"])
                    read(c, child, where + "." + key)
                else:
                    problem(where + "." + key, "must be an object with an id")
            elif not isinstance(obj[key], list):
                problem(where + "." + key, "must be a list")
            else:
                for i, c in enumerate(obj[key]):
                    read(c, child, "%s.%s[%d]" % (where, key, i), (link_field, rid))
        if rid in out:
            k0, f0, w0 = out[rid]
            merged = dict(f0)
            for k, v in fields.items():
                if k in f0 and f0[k] != v:
                    problem(where, "%s %s differs from its copy at %s (%s: %r vs %r)" %
                            (kind, rid, w0, k, v, f0[k]))
                merged.setdefault(k, v)
            out[rid] = (k0, merged, w0)
        else:
            out[rid] = (kind, fields, where)

    items = doc
    if isinstance(doc, dict) and "contents" in doc:
        items = doc["contents"]
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        problem("document", "must be an object, an array or a Page")
        return out
    for i, obj in enumerate(items):
        kind = "organization"
        if isinstance(obj, dict) and isinstance(obj.get("organization"), dict):
            kind = "service"
        elif isinstance(obj, dict) and isinstance(obj.get("location"), dict):
            kind = "service_at_location"
        read(obj, kind, "[%d]" % i)
    return out


def official_schema_problems(doc, hsds_dir):
    """Validates every organization of `doc` against the official compiled schema. Returns
    problems, or None when the jsonschema module or the official files are not available."""
    try:
        import jsonschema
    except ImportError:
        return None
    path = os.path.join(hsds_dir, "schema", "compiled", "organization.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator = cls(schema)
    problems = []
    for i, org in enumerate(doc):
        for e in validator.iter_errors(org):
            loc = "".join("[%d]" % p if isinstance(p, int) else "." + p for p in e.absolute_path)
            problems.append("[%d]%s: %s" % (i, loc, e.message[:200]))
    return problems


# ---------------------------------------------------------------------------------------------
# Reading a document back: flatten it, check it, count it
# ---------------------------------------------------------------------------------------------

def flatten(doc, problems=None):
    """Every record as (id, kind, fields, parent kind, parent id, owner org id), in document
    order. Structure problems are appended to `problems` when given."""
    out = []

    def problem(where, msg):
        if problems is not None:
            problems.append("%s: %s" % (where, msg))

    def read(obj, kind, where, parent_kind, parent_id, owner):
        if not isinstance(obj, dict):
            return problem(where, "must be an object")
        rid = obj.get("id")
        if not isinstance(rid, str):
            return problem(where, 'has no text "id"')
        fields = {}
        children = CHILDREN[kind]
        for key, value in obj.items():
            if key == "id" or key in children:
                continue
            fields[key] = value
        if kind == "organization":
            owner = rid
        out.append((rid, kind, fields, parent_kind, parent_id, owner, where))
        for key, child_kind in children.items():
            if key not in obj:
                continue
            if not isinstance(obj[key], list):
                problem(where + "." + key, "must be a list")
                continue
            for i, child in enumerate(obj[key]):
                read(child, child_kind, "%s.%s[%d]" % (where, key, i), kind, rid, owner)

    if not isinstance(doc, dict):
        problem("document", "must be an object")
        return out
    for key, value in doc.items():
        if key in ("hsds_version", "generator", "description"):
            continue
        if key not in TOP_LEVEL:
            problem(key, "unknown top-level key")
            continue
        if not isinstance(value, list):
            problem(key, "must be a list")
            continue
        for i, obj in enumerate(value):
            read(obj, TOP_LEVEL[key], "%s[%d]" % (key, i), "", "", "")
    return out


def check(doc, min_orgs=500, min_countries=20):
    """Every rule the importer applies, plus the promises of this data set. Returns problems."""
    problems = []
    records = flatten(doc, problems)
    seen = set()
    locations_of = {}  # org id -> set of location ids
    for rid, kind, fields, pkind, pid, owner, where in records:
        if kind == "location":
            locations_of.setdefault(owner, set()).add(rid)
    for rid, kind, fields, pkind, pid, owner, where in records:
        here = "%s (%s %s)" % (where, kind, rid)
        if rid in seen:
            problems.append(here + ": id appears more than once")
        seen.add(rid)
        if not PATTERNS["uuid"](rid):
            problems.append(here + ": id is not a lowercase UUID")
        for name, value in fields.items():
            spec = SCHEMA[kind].get(name)
            if spec is None:
                problems.append("%s: %s.%s: unknown field" % (here, kind, name))
                continue
            if pkind and name == LINK[pkind]:
                problems.append("%s: %s.%s: implied by the nesting; leave it out" %
                                (here, kind, name))
            if value is None:
                problems.append("%s: %s.%s: null" % (here, kind, name))
                continue
            err = check_value(spec, value)
            if err:
                problems.append("%s: %s.%s: %s" % (here, kind, name, err))
        if kind == "service_at_location":
            if fields.get("location_id") not in locations_of.get(owner, set()):
                problems.append(here + ": location_id is not a location of the same "
                                "organization")
    orgs = [r for r in records if r[1] == "organization"]
    countries = {r[2].get("country") for r in records if r[1] == "location"}
    confidential = [r for r in records if r[1] == "location" and
                    r[2].get("address_confidential") is True]
    if len(orgs) < min_orgs:
        problems.append("only %d organizations (want at least %d)" % (len(orgs), min_orgs))
    if len(countries) < min_countries:
        problems.append("only %d countries (want at least %d)" % (len(countries), min_countries))
    if min_orgs and not confidential:
        problems.append("no location has a confidential address")
    # Each organization has services, locations, phones, languages and schedules.
    by_owner = {}
    for rid, kind, fields, pkind, pid, owner, where in records:
        by_owner.setdefault(owner, set()).add(kind)
    for rid, kind, fields, pkind, pid, owner, where in orgs:
        missing = {"service", "location", "phone", "language", "schedule"} - by_owner[rid]
        if missing:
            problems.append("%s (%s): has no %s" % (where, rid, ", ".join(sorted(missing))))
    return problems


def counts(doc):
    records = flatten(doc)
    by_kind = {}
    for r in records:
        by_kind[r[1]] = by_kind.get(r[1], 0) + 1
    locs = [r[2] for r in records if r[1] == "location"]
    svcs = [r[2] for r in records if r[1] == "service"]
    phones = [r[2] for r in records if r[1] == "phone"]
    return {
        "organizations": by_kind.get("organization", 0),
        "records": len(records),
        "by_kind": dict(sorted(by_kind.items())),
        "countries": len({l.get("country") for l in locs}),
        "confidential_locations": sum(1 for l in locs if l.get("address_confidential")),
        "services_with_beds": sum(1 for s in svcs if "capacity_beds_total" in s),
        "services_24_7": sum(1 for s in svcs if s.get("available_24_7")),
        "multilingual_phones": sum(1 for p in phones if len(p.get("languages", [])) > 1),
        "languages": len({l for p in phones for l in p.get("languages", [])}),
    }


def compare(doc, other):
    """Differences between the records of two documents (e.g. this file and GET /v1/export):
    same ids, kinds, parents and field values (sets compared as sets)."""
    def norm(d):
        out = {}
        for rid, kind, fields, pkind, pid, owner, where in flatten(d):
            f = {}
            for k, v in fields.items():
                if pkind and k == LINK[pkind]:
                    continue
                f[k] = sorted(v) if isinstance(v, list) else v
            if pkind:
                f[LINK[pkind]] = pid
            out[rid] = (kind, f)
        return out
    a, b = norm(doc), norm(other)
    diffs = []
    for rid in sorted(set(a) | set(b)):
        if rid not in b:
            diffs.append("%s %s: missing from the other document" % (a[rid][0], rid))
        elif rid not in a:
            diffs.append("%s %s: only in the other document" % (b[rid][0], rid))
        elif a[rid] != b[rid]:
            ka, fa = a[rid]
            kb, fb = b[rid]
            if ka != kb:
                diffs.append("%s: kind %s vs %s" % (rid, ka, kb))
            for k in sorted(set(fa) | set(fb)):
                if fa.get(k) != fb.get(k):
                    diffs.append("%s %s.%s: %r vs %r" % (ka, rid, k, fa.get(k), fb.get(k)))
    return diffs


def is_envelope(doc):
    return isinstance(doc, dict) and "organizations" in doc and "hsds_version" in doc


def compare_hsds(doc, other):
    """Differences between the objects of two HSDS documents (compiled organizations, services,
    arrays or Pages): same ids, kinds and property values, JSON types included. The built-in
    Switchboard taxonomy and its terms are left out (they are the same everywhere)."""
    def norm(d):
        problems = []
        flat = flatten_hsds(d, problems)
        out = {}
        for rid, (kind, fields, where) in flat.items():
            if kind == "taxonomy" and rid == SWITCHBOARD_TAXONOMY_ID:
                continue
            if kind == "taxonomy_term" and fields.get("taxonomy_id") == SWITCHBOARD_TAXONOMY_ID:
                continue
            out[rid] = (kind, {k: v for k, v in fields.items() if k != "taxonomy_term_id" or
                               kind != "attribute"})
        return out, problems
    (a, pa), (b, pb) = norm(doc), norm(other)
    diffs = ["this document: " + p for p in pa] + ["the other document: " + p for p in pb]
    for rid in sorted(set(a) | set(b)):
        if rid not in b:
            diffs.append("%s %s: missing from the other document" % (a[rid][0], rid))
        elif rid not in a:
            diffs.append("%s %s: only in the other document" % (b[rid][0], rid))
        elif a[rid] != b[rid]:
            ka, fa = a[rid]
            kb, fb = b[rid]
            if ka != kb:
                diffs.append("%s: kind %s vs %s" % (rid, ka, kb))
            for k in sorted(set(fa) | set(fb)):
                va, vb = fa.get(k), fb.get(k)
                if va != vb or type(va) is not type(vb):
                    diffs.append("%s %s.%s: %r vs %r" % (ka, rid, k, va, vb))
    return diffs


def check_hsds(doc, hsds_dir, min_orgs=500, min_countries=20, require_schema=False):
    """The HSDS document's problems: structure, ids, the official schema (when the jsonschema
    module and ../shared/hsds are there), and the promises of this data set."""
    problems = []
    flat = flatten_hsds(doc, problems)
    for rid, (kind, fields, where) in flat.items():
        if not PATTERNS["uuid"](rid):
            problems.append("%s (%s %s): id is not a lowercase UUID" % (where, kind, rid))
    official = official_schema_problems(doc, hsds_dir)
    if official is None:
        msg = ("not validated against the official HSDS schemas (needs python3-jsonschema "
               "and %s)" % hsds_dir)
        if require_schema:
            problems.append(msg)
        else:
            print("note: " + msg, file=sys.stderr)
    else:
        problems += official
    orgs = [r for r in flat.values() if r[0] == "organization"]
    countries = {f.get("country") for k, f, w in flat.values() if k == "address"}
    confidential = [r for r in flat.values() if r[0] == "location" and
                    r[1].get("address_confidential") is True]
    if len(orgs) < min_orgs:
        problems.append("only %d organizations (want at least %d)" % (len(orgs), min_orgs))
    if len(countries) < min_countries:
        problems.append("only %d countries (want at least %d)" % (len(countries), min_countries))
    if min_orgs and not confidential:
        problems.append("no location has a confidential address")
    return problems


def write(doc, path):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"), sort_keys=True,
                  ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orgs", type=int, default=520, help="organizations (default 520)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--out", default=os.path.join(here, "directory.json"),
                    help="output file (default: directory.json next to this script)")
    ap.add_argument("--check", action="store_true",
                    help="after writing, re-read the file and validate it")
    ap.add_argument("--check-only", action="store_true",
                    help="validate --out without generating")
    ap.add_argument("--compare", metavar="EXPORT",
                    help="compare the records of --out with another HSDS document (e.g. the "
                         "agent's GET /v1/export) and exit 1 on any difference")
    ap.add_argument("--format", choices=["hsds", "envelope"], default="hsds",
                    help="hsds (default): a JSON array of compiled HSDS 3.0 organizations, the "
                         "shape of the official examples; envelope: the first release's "
                         "{hsds_version, organizations} document")
    ap.add_argument("--hsds-dir", default=os.environ.get(
                        "SB_HSDS_DIR", os.path.join(here, "..", "..", "..", "shared", "hsds")),
                    help="the official HSDS files, for --check (default ../shared/hsds)")
    ap.add_argument("--require-schema", action="store_true",
                    help="with --check: fail when the official schemas cannot be checked "
                         "(no jsonschema module or no --hsds-dir)")
    ap.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = ap.parse_args(argv)
    if args.orgs < 1:
        ap.error("--orgs must be at least 1")

    def say(msg):
        if not args.quiet:
            print(msg)

    started = time.perf_counter()
    if not args.check_only and not args.compare:
        doc = Generator(args.seed).document(args.orgs)
        out = to_hsds(doc, args.seed) if args.format == "hsds" else doc
        write(out, args.out)
        c = counts(doc)
        say("wrote %s: %d organizations, %d records, %d countries, %d confidential "
            "locations, %d bytes in %.2fs" % (args.out, c["organizations"], c["records"],
                                                c["countries"], c["confidential_locations"],
                                                os.path.getsize(args.out),
                                                time.perf_counter() - started))
        say("  " + ", ".join("%s %d" % kv for kv in c["by_kind"].items()))
        say("  services with beds %d, 24/7 services %d, multilingual phones %d, phone "
            "languages %d" % (c["services_with_beds"], c["services_24_7"],
                              c["multilingual_phones"], c["languages"]))
        if args.format == "hsds":
            by_kind = {}
            for kind, _, _ in flatten_hsds(out).values():
                by_kind[kind] = by_kind.get(kind, 0) + 1
            say("  as HSDS 3.0: %d objects: %s" % (sum(by_kind.values()), ", ".join(
                "%s %d" % kv for kv in sorted(by_kind.items()))))
    if args.check or args.check_only:
        with open(args.out, encoding="utf-8") as f:
            doc = json.load(f)
        full = args.orgs >= 500 or args.check_only
        if is_envelope(doc):
            problems = check(doc, min_orgs=500 if full else 0, min_countries=20 if full else 0)
        else:
            problems = check_hsds(doc, args.hsds_dir, min_orgs=500 if full else 0,
                                  min_countries=20 if full else 0,
                                  require_schema=args.require_schema)
        for p in problems[:200]:
            print("problem: " + p, file=sys.stderr)
        if problems:
            print("%s: %d problem(s)" % (args.out, len(problems)), file=sys.stderr)
            return 1
        n = len(flatten(doc)) if is_envelope(doc) else len(flatten_hsds(doc))
        say("check: %s is valid (%d %s)" % (args.out, n,
                                             "records" if is_envelope(doc) else "objects"))
    if args.compare:
        with open(args.out, encoding="utf-8") as f:
            doc = json.load(f)
        with open(args.compare, encoding="utf-8") as f:
            other = json.load(f)
        if is_envelope(doc) != is_envelope(other):
            print("%s and %s are not in the same shape (one is the first release's envelope); "
                  "export with the same --format" % (args.out, args.compare), file=sys.stderr)
            return 1
        diffs = compare(doc, other) if is_envelope(doc) else compare_hsds(doc, other)
        for d in diffs[:200]:
            print("differs: " + d, file=sys.stderr)
        if diffs:
            print("%d difference(s) between %s and %s" % (len(diffs), args.out, args.compare),
                  file=sys.stderr)
            return 1
        n = len(flatten(doc)) if is_envelope(doc) else len(flatten_hsds(doc))
        say("compare: %s and %s hold the same %d %s" % (args.out, args.compare, n,
                                                        "records" if is_envelope(doc) else
                                                        "objects"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Names and codes people write for countries that are not ISO 3166-1 alpha-3, mapped to it.

ISO 3166-1 itself (alpha-2, alpha-3 and English names) comes from the `iso3166` package and the
world data's own names from countries.yaml (sim.scenario.suggest); this table adds what neither has.
Only used to suggest a code in error messages, never to accept one.
"""

from __future__ import annotations

# IOC country codes that differ from ISO 3166-1 alpha-3 (source: International Olympic Committee,
# list of National Olympic Committees and their codes; FIFA uses the same for these countries).
# A code that is also the ISO alpha-3 of another country is left to ISO (sim.scenario.suggest).
IOC_CODES = {
    "ALG": "DZA", "ANG": "AGO", "ANT": "ATG", "ARU": "ABW", "BAH": "BHS", "BAN": "BGD", "BAR": "BRB",
    "BER": "BMU", "BHU": "BTN", "BIZ": "BLZ", "BOT": "BWA", "BRU": "BRN", "BUL": "BGR", "BUR": "BFA",
    "CAM": "KHM", "CAY": "CYM", "CGO": "COG", "CHA": "TCD", "CHI": "CHL", "CRC": "CRI", "CRO": "HRV",
    "DEN": "DNK", "ESA": "SLV", "FIJ": "FJI", "GAM": "GMB", "GER": "DEU", "GRE": "GRC", "GUA": "GTM",
    "GUI": "GIN", "HAI": "HTI", "HON": "HND", "INA": "IDN", "IRI": "IRN", "KSA": "SAU", "KUW": "KWT",
    "LAT": "LVA", "LBA": "LBY", "LES": "LSO", "LIB": "LBN", "MAD": "MDG", "MAS": "MYS", "MAW": "MWI",
    "MGL": "MNG", "MRI": "MUS", "MTN": "MRT", "MYA": "MMR", "NED": "NLD", "NEP": "NPL", "NGR": "NGA",
    "NIG": "NER", "OMA": "OMN", "PAR": "PRY", "PHI": "PHL", "POR": "PRT", "PUR": "PRI", "RSA": "ZAF",
    "SAM": "WSM", "SEY": "SYC", "SLO": "SVN", "SOL": "SLB", "SRI": "LKA", "SUD": "SDN", "SUI": "CHE",
    "TAN": "TZA", "TGA": "TON", "TOG": "TGO", "TPE": "TWN", "TRI": "TTO", "UAE": "ARE", "URU": "URY",
    "VAN": "VUT", "VIE": "VNM", "ZAM": "ZMB", "ZIM": "ZWE",
}

# Other codes in common use: UK (reserved in ISO 3166-1 at the United Kingdom's request), EL (the
# EU's code for Greece, Eurostat country codes), and the abbreviations of official state names.
OTHER_CODES = {
    "UK": "GBR", "EL": "GRC", "PRC": "CHN", "ROC": "TWN", "ROK": "KOR", "DPRK": "PRK", "DRC": "COD",
}

# English names in common use that differ from the ISO short names and from countries.yaml.
COMMON_NAMES = {
    "america": "USA", "united states of america": "USA", "us": "USA", "u s": "USA", "u s a": "USA",
    "britain": "GBR", "great britain": "GBR", "england": "GBR", "scotland": "GBR", "wales": "GBR",
    "northern ireland": "GBR", "holland": "NLD", "korea": "KOR", "north korea": "PRK", "turkey": "TUR",
    "czech republic": "CZE", "ivory coast": "CIV", "burma": "MMR", "vietnam": "VNM", "laos": "LAO",
    "syria": "SYR", "macedonia": "MKD", "swaziland": "SWZ", "cape verde": "CPV", "east timor": "TLS",
    "dr congo": "COD", "congo kinshasa": "COD", "congo brazzaville": "COG", "macau": "MAC",
    "vatican": "VAT", "emirates": "ARE", "persia": "IRN",
}

# Countries' names in their own main official language (Latin script), as in the Unicode CLDR
# territory names of that language; compared without accents and case.
ENDONYMS = {
    "deutschland": "DEU", "espana": "ESP", "italia": "ITA", "brasil": "BRA", "nederland": "NLD",
    "osterreich": "AUT", "schweiz": "CHE", "suisse": "CHE", "svizzera": "CHE", "polska": "POL",
    "sverige": "SWE", "norge": "NOR", "danmark": "DNK", "suomi": "FIN", "cesko": "CZE",
    "magyarorszag": "HUN", "eire": "IRL", "hrvatska": "HRV", "slovensko": "SVK", "eesti": "EST",
    "latvija": "LVA", "lietuva": "LTU", "belgique": "BEL", "belgie": "BEL", "rossiya": "RUS",
    "zhongguo": "CHN", "nippon": "JPN", "nihon": "JPN", "bharat": "IND", "misr": "EGY",
}

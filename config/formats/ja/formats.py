"""How the admin and pages show dates in Japanese: Django's ja formats with the weekday, which
the secretariat reads dates by (2026年4月1日（水）). 和暦 is association.nendo.wareki's."""

DATE_FORMAT = "Y年n月j日（D）"
DATETIME_FORMAT = "Y年n月j日（D） G:i"
TIME_FORMAT = "G:i"
YEAR_MONTH_FORMAT = "Y年n月"
MONTH_DAY_FORMAT = "n月j日"
SHORT_DATE_FORMAT = "Y/m/d"
SHORT_DATETIME_FORMAT = "Y/m/d G:i"

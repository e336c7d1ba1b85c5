# Django's fr_CA formats leave the "h" of "10 h 42" unescaped, which prints the hour twice.
# Everything else comes from Django's own fr_CA module.
from django.conf.locale.fr_CA.formats import *  # noqa: F403

TIME_FORMAT = "H\xa0\\h\xa0i"
DATETIME_FORMAT = "j F Y, H\xa0\\h\xa0i"
SHORT_DATETIME_FORMAT = "Y-m-d H\xa0\\h\xa0i"

#!/bin/sh
# The scheduled jobs of compose.yaml's scheduler service: every day at about 03:15 (the
# container's TZ, America/Toronto by default), retention, print files, then a backup kept 14 days.
set -u
export TZ="${TZ:-America/Toronto}"
while true; do
    now=$(date +%s)
    next=$(date -d "tomorrow 03:15" +%s 2>/dev/null || echo $((now + 86400)))
    if [ "$(date +%H%M)" -lt 0315 ]; then next=$(date -d "today 03:15" +%s); fi
    sleep $((next - now))
    python manage.py apply_retention
    python manage.py purge_print_files
    python manage.py backup --output "backups/coupons-$(date +%Y%m%d-%H%M).tar.gz" \
        && find backups -name 'coupons-*.tar.gz' -mtime +14 -delete
done

"""The SMTP side: aiosmtpd's protocol extended with transcripts, a chunked DATA reader and limits."""

console.error('glcert: no command yet'); process.exit(2);

<?php
// The migration step: `php migrate.php` applies, in order, every migrations/NNN_*.sql newer than the
// schema version recorded in table `migrasi`. Idempotent: a second run applies nothing. Each migration
// and its record are applied together, so an interrupted run resumes where it stopped.
declare(strict_types=1);

if (PHP_SAPI !== 'cli') {
    http_response_code(403);
    exit("cli only\n");
}
require __DIR__ . '/app/Database.php';

$pdo = Database::connect(__DIR__ . '/');
$pdo->exec('CREATE TABLE IF NOT EXISTS migrasi (versi INT PRIMARY KEY, nama VARCHAR(200) NOT NULL,
            diterapkan TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)');
$current = Database::schemaVersion($pdo);
$files = glob(__DIR__ . '/migrations/[0-9][0-9][0-9]_*.sql');
sort($files);
$applied = 0;
foreach ($files as $file) {
    $versi = (int) substr(basename($file), 0, 3);
    if ($versi <= $current) {
        continue;
    }
    foreach (array_filter(array_map('trim', explode(';', (string) file_get_contents($file)))) as $sql) {
        $pdo->exec($sql);  // DDL commits implicitly in MariaDB: every statement is written re-runnable
    }
    $pdo->prepare('INSERT IGNORE INTO migrasi (versi, nama) VALUES (?, ?)')->execute([$versi, basename($file)]);
    $applied++;
    echo "applied " . basename($file) . "\n";
}
echo "schema " . Database::schemaVersion($pdo) . " ($applied applied)\n";

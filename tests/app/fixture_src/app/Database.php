<?php
declare(strict_types=1);

final class Database
{
    /** Reads desa/config/database.php the way OpenSID does ($db['default'][...]). */
    public static function connect(string $root): PDO
    {
        $db = [];
        require $root . 'desa/config/database.php';
        $c = $db['default'];
        $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $c['hostname'], (int) ($c['port'] ?? 3306), $c['database']);
        if (!empty($c['socket'])) {
            $dsn = sprintf('mysql:unix_socket=%s;dbname=%s;charset=utf8mb4', $c['socket'], $c['database']);
        }
        return new PDO($dsn, $c['username'], $c['password'], [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    }

    public static function schemaVersion(PDO $pdo): int
    {
        $t = $pdo->query("SHOW TABLES LIKE 'migrasi'")->fetchColumn();
        if ($t === false) {
            return 0;
        }
        return (int) $pdo->query('SELECT COALESCE(MAX(versi), 0) FROM migrasi')->fetchColumn();
    }
}

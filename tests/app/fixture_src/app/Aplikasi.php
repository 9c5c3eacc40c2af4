<?php
declare(strict_types=1);

require_once __DIR__ . '/Database.php';

final class Aplikasi
{
    private string $root;
    private array $desa;

    public function __construct(string $root)
    {
        $this->root = $root;
        $config = $root . 'desa/config/config.php';
        if (!is_file($config)) {
            throw new RuntimeException('desa/config/config.php is missing: the deploy renders it');
        }
        $this->desa = require $config;
    }

    public function version(): string
    {
        return trim((string) file_get_contents($this->root . 'app/VERSION'));
    }

    public function handle(string $method, string $path): void
    {
        try {
            $db = Database::connect($this->root);
            match ([$method, $path]) {
                ['GET', '/'] => $this->beranda($db),
                ['GET', '/health'] => $this->health($db),
                ['POST', '/penduduk'] => $this->tambahPenduduk($db),
                ['POST', '/unggah'] => $this->unggah(),
                default => $this->tidakDitemukan(),
            };
        } catch (PDOException $e) {
            http_response_code(503);
            header('Content-Type: text/plain; charset=utf-8');
            echo "database unavailable\n";
            error_log('fixture app: ' . $e->getMessage());
        }
    }

    private function e(string $s): string
    {
        return htmlspecialchars($s, ENT_QUOTES, 'UTF-8');
    }

    private function beranda(PDO $db): void
    {
        $schema = Database::schemaVersion($db);
        $kolom = $schema >= 2 ? 'id, nama, dusun' : 'id, nama';
        $rows = $db->query("SELECT $kolom FROM penduduk ORDER BY id")->fetchAll(PDO::FETCH_ASSOC);
        $uploads = array_values(array_filter(scandir($this->root . 'desa/upload') ?: [],
            fn ($f) => $f[0] !== '.' && is_file($this->root . 'desa/upload/' . $f)));
        header('Content-Type: text/html; charset=utf-8');
        echo "<!doctype html><html><head><title>Desa " . $this->e($this->desa['nama_desa']) . "</title></head><body>\n";
        echo "<h1>Desa " . $this->e($this->desa['nama_desa']) . "</h1>\n";
        echo "<p>Kode wilayah " . $this->e($this->desa['kode_desa']) . " &middot; versi " . $this->e($this->version())
            . " &middot; skema " . $schema . "</p>\n<ul id=\"penduduk\">\n";
        foreach ($rows as $r) {
            echo '<li>' . $this->e($r['nama']) . (isset($r['dusun']) ? ' (' . $this->e((string) $r['dusun']) . ')' : '') . "</li>\n";
        }
        echo "</ul>\n<ul id=\"unggahan\">\n";
        foreach ($uploads as $f) {
            echo '<li>' . $this->e($f) . "</li>\n";
        }
        echo "</ul>\n";
        echo "<form method=\"post\" action=\"/penduduk\"><input name=\"nama\"><button>Tambah</button></form>\n";
        echo "<form method=\"post\" action=\"/unggah\" enctype=\"multipart/form-data\"><input type=\"file\" name=\"berkas\"><button>Unggah</button></form>\n";
        echo "</body></html>\n";
    }

    private function health(PDO $db): void
    {
        header('Content-Type: application/json');
        echo json_encode(['status' => 'ok', 'desa' => $this->desa['nama_desa'], 'versi' => $this->version(),
                          'skema' => Database::schemaVersion($db),
                          'penduduk' => (int) $db->query('SELECT COUNT(*) FROM penduduk')->fetchColumn()]), "\n";
    }

    private function tambahPenduduk(PDO $db): void
    {
        $nama = trim((string) ($_POST['nama'] ?? ''));
        if ($nama === '' || mb_strlen($nama) > 100) {
            http_response_code(422);
            echo "nama wajib diisi (maks. 100 karakter)\n";
            return;
        }
        $db->prepare('INSERT INTO penduduk (nama) VALUES (?)')->execute([$nama]);
        http_response_code(303);
        header('Location: /');
    }

    private function unggah(): void
    {
        $f = $_FILES['berkas'] ?? null;
        if (!$f || $f['error'] !== UPLOAD_ERR_OK) {
            http_response_code(422);
            echo "unggahan gagal\n";
            return;
        }
        // Like OpenSID, the name is kept (sanitised); nginx refuses to execute PHP from upload folders.
        $name = preg_replace('/[^A-Za-z0-9._-]/', '_', basename((string) $f['name']));
        if (!move_uploaded_file($f['tmp_name'], $this->root . 'desa/upload/' . $name)) {
            http_response_code(500);
            echo "tidak dapat menyimpan berkas\n";
            return;
        }
        http_response_code(303);
        header('Location: /');
    }

    private function tidakDitemukan(): void
    {
        http_response_code(404);
        echo "halaman tidak ditemukan\n";
    }
}

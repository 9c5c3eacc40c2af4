<?php
// Front controller of the OpenSID-shaped fixture app (desa-digital tests). Every request that is not
// a static asset comes here (nginx: try_files ... /index.php?$query_string).
declare(strict_types=1);

define('FCPATH', __DIR__ . '/');
require FCPATH . 'vendor/autoload.php';
require FCPATH . 'app/Aplikasi.php';

$app = new Aplikasi(FCPATH);
$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
$app->handle($_SERVER['REQUEST_METHOD'] ?? 'GET', rtrim($path, '/') ?: '/');

<?php
// Replaced by the deploy with the village's own values (rendered from the inventory).
return ['nama_desa' => 'Contoh', 'kode_desa' => '00.00.00.0000', 'domain' => 'localhost'];

<?php
// Replaced by the deploy (rendered from the inventory, credentials from the secrets store).
$db['default'] = ['hostname' => 'localhost', 'port' => 3306, 'username' => '', 'password' => '', 'database' => ''];

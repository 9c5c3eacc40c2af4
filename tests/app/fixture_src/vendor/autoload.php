<?php
// OpenSID commits vendor/ in its releases; the fixture keeps a tiny stand-in.
declare(strict_types=1);

# Neutron's database on the test cloud: the controller node01 runs mysqldump, mariadb and the
# neutron-db-manage stand-in against the test MariaDB's neutron database.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot 'NeutronSupport.ps1')
    $script:ssh = @{ KnownHostsPath = Join-Path $env:DF_TEST_SSH_DIR 'known_hosts'; DatabaseCredential = Get-TestNeutronCredential }
}

Describe 'Backing up, migrating and restoring Neutron''s database' {
    BeforeEach {
        Reset-TestNeutronDatabase
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
        $inventory = New-TestNeutronInventory $dir
        $before = Get-TestNeutronDump
    }

    It 'puts the database back exactly as it was before the migration' {
        $backup = Backup-DfNeutronDatabase -Inventory $inventory -Path (Join-Path $dir 'neutron.sql.gz') @ssh
        $backup.Node | Should -Be 'node01'
        $backup.Path | Should -Be (Join-Path $dir 'neutron.sql.gz')
        $backup.Bytes | Should -BeGreaterThan 1000
        $backup.Time | Should -BeGreaterThan ([datetime]::UtcNow.AddMinutes(-5))

        $verbose = Invoke-DfNeutronMigration -Inventory $inventory @ssh -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -join "`n") | Should -BeLike '*node01: INFO  `[alembic.runtime.migration`] Running upgrade 349b6fd605a6 -> 5c85685d616d*'
        Invoke-TestNeutronSql 'SELECT version_num FROM neutron.alembic_version ORDER BY 1' | Should -Be '594422d373ee', '5c85685d616d'
        Invoke-TestNeutronSql 'SHOW COLUMNS FROM neutron.ports LIKE ''ip_allocation''' | Should -Not -BeNullOrEmpty
        Invoke-TestNeutronSql 'SELECT network_type, segmentation_id FROM neutron.network_segments ORDER BY 1' | Should -Be "flat`tNULL", "vxlan`t1077"

        $restored = $backup | Restore-DfNeutronDatabase -Confirm:$false @ssh
        $restored.Bytes | Should -Be $backup.Bytes
        $restored.Checksum | Should -Be $backup.Checksum
        # The table the migration added is gone too, not only the old tables rewritten.
        Get-TestNeutronDump | Should -BeExactly $before
    }

    It 'stores the dump compressed, readable by its owner only, with a checksum sha256sum accepts' {
        $backup = Backup-DfNeutronDatabase -Inventory $inventory -Path (Join-Path $dir 'neutron.sql.gz') @ssh
        (Get-Item $backup.Path).UnixMode | Should -Be '-rw-------'
        Push-Location $dir
        try { sha256sum -c 'neutron.sql.gz.sha256' | Should -Be 'neutron.sql.gz: OK' } finally { Pop-Location }
        (Get-FileHash $backup.Path -Algorithm SHA256).Hash.ToLowerInvariant() | Should -Be $backup.Checksum
        $text = gzip -dc $backup.Path
        $text -join "`n" | Should -Match 'CREATE TABLE .ports. \('
        $text -join "`n" | Should -Match "INSERT INTO .ports. VALUES\s+\('9f1e2d3c4b5a','c0ffee00-0000-4000-8000-000000000005'"
        @(Get-ChildItem $dir -Force -Filter '.*partial*').Count | Should -Be 0
    }

    It 'names a dump by node and time in ./df-backups when no path is given' {
        Push-Location $dir
        try { $backup = Backup-DfNeutronDatabase -Inventory $inventory @ssh } finally { Pop-Location }
        $backup.Path | Should -BeLike (Join-Path $dir 'df-backups/neutron-node01-*Z.sql.gz')
        Test-Path "$($backup.Path).sha256" | Should -BeTrue
    }

    It 'reports a failing migration as an error with the node, the command, the exit code and its last error lines' {
        $backup = Backup-DfNeutronDatabase -Inventory $inventory -Path (Join-Path $dir 'neutron.sql.gz') @ssh
        New-Item (Join-Path $dir 'fail-migration') | Out-Null
        $result = Invoke-DfNeutronMigration -Inventory $inventory @ssh -ErrorVariable failed -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $failed.Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NeutronCommandFailed,*'
        $failed[0].TargetObject | Should -Be 'node01'
        $message = $failed[0].Exception.Message
        $message | Should -BeLike 'node01: exit code 3 from *neutron-db-manage'' upgrade heads*'
        $message | Should -BeLike '*MYSQL_PWD=`*`*`* *'
        $message | Should -BeLike "*Unknown column 'segments.network_type'*"
        $message | Should -BeLike '*migration 349b6fd605a6 -> 5c85685d616d failed*'
        # Half-migrated: the first step's column is there; the restore takes it away.
        Invoke-TestNeutronSql 'SHOW COLUMNS FROM neutron.ports LIKE ''ip_allocation''' | Should -Not -BeNullOrEmpty
        Restore-DfNeutronDatabase -Inventory $inventory -Path $backup.Path -Confirm:$false @ssh | Out-Null
        Get-TestNeutronDump | Should -BeExactly $before
    }

    It 'refuses a damaged dump and leaves the database as it is' {
        $backup = Backup-DfNeutronDatabase -Inventory $inventory -Path (Join-Path $dir 'neutron.sql.gz') @ssh
        Invoke-DfNeutronMigration -Inventory $inventory @ssh | Out-Null
        $migrated = Get-TestNeutronDump
        $bytes = [IO.File]::ReadAllBytes($backup.Path)
        $bytes[$bytes.Length / 2] = $bytes[$bytes.Length / 2] -bxor 0x40
        [IO.File]::WriteAllBytes($backup.Path, $bytes)

        $backup | Restore-DfNeutronDatabase -Confirm:$false @ssh -ErrorVariable failed -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NeutronDumpDamaged,*'
        $failed[0].Exception.Message | Should -BeLike "The dump $($backup.Path) is damaged: its SHA-256 is * says $($backup.Checksum); nothing was restored."
        Get-TestNeutronDump | Should -BeExactly $migrated
    }

    It 'refuses a dump without its checksum file' {
        $backup = Backup-DfNeutronDatabase -Inventory $inventory -Path (Join-Path $dir 'neutron.sql.gz') @ssh
        Remove-Item "$($backup.Path).sha256"
        $backup | Restore-DfNeutronDatabase -Confirm:$false @ssh -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'NeutronDumpUnverified,*'
    }

    It 'runs nothing under -WhatIf, and shows the command lines with the password hidden' {
        $path = Join-Path $dir 'neutron.sql.gz'
        $shown = Get-WhatIf { Backup-DfNeutronDatabase -Inventory $inventory -Path $path @ssh -WhatIf }
        $shown | Should -BeLike "*What if: Back up Neutron's database to $path on node01 (127.0.0.11), running:`n    MYSQL_PWD=``*``*``* mysqldump --no-defaults -h 127.0.0.1 -P * -u neutron --single-transaction --add-drop-database --databases neutron`n*"
        $shown | Should -Not -BeLike "*$(Get-TestNeutronPassword)*"
        Test-Path $path | Should -BeFalse
        Test-Path "$path.sha256" | Should -BeFalse

        $shown = Get-WhatIf { Invoke-DfNeutronMigration -Inventory $inventory @ssh -WhatIf }
        $shown | Should -BeLike "*What if: Migrate Neutron's database on node01 (127.0.0.11), running:`n    MYSQL_PWD=``*``*``* DF_TEST_MARIADB=* bash '*neutron-db-manage' upgrade heads`n*"

        $backup = Backup-DfNeutronDatabase -Inventory $inventory -Path $path @ssh
        Invoke-TestNeutronSql 'CREATE TABLE neutron.marker (id INT)' | Out-Null
        $shown = Get-WhatIf { $backup | Restore-DfNeutronDatabase @ssh -WhatIf }
        $shown | Should -BeLike "*What if: Restore Neutron's database from $path on node01 (127.0.0.11), running:`n    MYSQL_PWD=``*``*``* mariadb --no-defaults * neutron < $path`n*"
        Invoke-TestNeutronSql 'SHOW TABLES FROM neutron LIKE ''marker''' | Should -Be 'marker'
        Invoke-TestNeutronSql 'SELECT version_num FROM neutron.alembic_version ORDER BY 1' | Should -Be '349b6fd605a6', '7d32f979895f'
    }
}

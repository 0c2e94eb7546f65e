BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    if (-not $env:DF_TEST_ETCD) { throw 'DF_TEST_ETCD is not set: run the tests through build.ps1 Test, which starts etcd.' }

    function Set-EtcdValue([string] $Key, [string] $Value) { Invoke-EtcdGateway kv/put @{ key = $Key; value = $Value } | Out-Null }

    # The value of a key, as text; nothing when it is absent.
    function Get-EtcdValue([string] $Key) {
        $kvs = (Invoke-EtcdGateway kv/range @{ key = $Key }).PSObject.Properties['kvs']
        if ($kvs) { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($kvs.Value[0].value)) }
    }

    # How many keys start with $Prefix.
    function Get-EtcdCount([string] $Prefix) {
        $end = $Prefix.Substring(0, $Prefix.Length - 1) + [char]([int]$Prefix[-1] + 1)
        $count = (Invoke-EtcdGateway kv/range @{ key = $Prefix; range_end = $end; count_only = $true }).PSObject.Properties['count']
        if ($count) { [int]$count.Value } else { 0 }
    }
}

Describe 'Invoke-DfMigration on an etcd NB database' {
    BeforeEach {
        Invoke-EtcdGateway kv/deleterange @{ key = "`0"; range_end = "`0" } | Out-Null
        $db = "etcd://$env:DF_TEST_ETCD"
        foreach ($port in (New-Port 'p1' 't1'), (New-Port 'p2' 't1' 'network:dhcp'), (New-Port 'p3' 't2')) {
            Set-EtcdValue "/lport/$($port.id)" ($port.value | ConvertTo-Json -Compress)
        }
        Set-EtcdValue '/unique_key/lport' '3'
        Set-EtcdValue 'unrelated' 'x'
        Set-ShippedMigrationsApplied $db
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
    }

    It 'migrates the objects where Dragonflow keeps them, after a backup, through the journal, under the lock; and Undo takes it back' {
        $backup = Join-Path $TestDrive "etcd-$([guid]::NewGuid()).jsonl.gz"
        # The migration copies the lock as etcd holds it while the run applies it.
        $seen = Join-Path $TestDrive "$([guid]::NewGuid()).seen"
        $key = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('/df_upgrade_lock/lock'))
        New-MigrationFile $folder '0.ps1' 'observe-lock' '2017-08-01T00:00:00Z' ("`$kv = (Invoke-RestMethod -NoProxy -Method Post -ContentType 'application/json' -Uri 'http://$env:DF_TEST_ETCD/v3/kv/range' -Body '{`"key`":`"$key`"}').kvs[0]; " +
            "[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String(`$kv.value)) | Set-Content -LiteralPath '$seen'") | Out-Null
        $out = Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false
        $out.Id | Should -Be @('observe-lock', 'flag')
        $held = Get-Content -Raw $seen | ConvertFrom-Json
        $held.pid | Should -Be $PID
        $held.purpose | Should -Be 'Invoke-DfMigration'
        (Get-EtcdValue '/lport/p1' | ConvertFrom-Json).flag | Should -BeTrue
        (Get-EtcdValue '/lport/p2' | ConvertFrom-Json).PSObject.Properties.Name | Should -Not -Contain 'flag'
        $p3 = Get-DfNbObject -Database $db -Table lport -Id p3
        $p3.flag | Should -BeTrue
        $p3.topic | Should -Be 't2'
        (Get-EtcdValue '/schema_migration_log/flag' | ConvertFrom-Json).kind | Should -Be 'migration'
        Get-EtcdValue '/unique_key/lport' | Should -Be '3'
        Get-EtcdValue 'unrelated' | Should -Be 'x'
        # The lock is released, the journal removed, the run recorded.
        Get-EtcdValue '/df_upgrade_lock/lock' | Should -BeNullOrEmpty
        Get-EtcdCount '/df_upgrade_journal/' | Should -Be 0
        (Get-EtcdValue '/df_upgrade_commit/last-run' | ConvertFrom-Json).state | Should -Be 'committed'
        # The backup is an embedded database holding the objects as they were.
        (Get-DfNbObject -Database $backup -Table lport -Id p1).PSObject.Properties.Name | Should -Not -Contain 'flag'

        Undo-DfMigration -Database $db -Confirm:$false | Out-Null
        (Get-EtcdValue '/lport/p1' | ConvertFrom-Json).PSObject.Properties.Name | Should -Not -Contain 'flag'
        Get-EtcdValue '/schema_migration_log/flag' | Should -BeNullOrEmpty
        Get-EtcdValue 'unrelated' | Should -Be 'x'
    }

    It 'is refused while another host holds the lock, naming the holder, and writes nothing' {
        $lock = @{ host = 'controller-2'; pid = 4242; user = 'ops'; purpose = 'Invoke-DfMigration'; token = 'elsewhere'
            started_at = [DateTime]::UtcNow.AddMinutes(-1).ToString('o'); expires_at = [DateTime]::UtcNow.AddHours(1).ToString('o') } | ConvertTo-Json -Compress
        Set-EtcdValue '/df_upgrade_lock/lock' $lock
        $before = Get-EtcdValue '/lport/p1'
        $err = $null
        try { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'DatabaseLocked*'
        $err.Exception.Message | Should -BeLike "*$db*process 4242 of ops on controller-2*"
        Get-EtcdValue '/lport/p1' | Should -Be $before
        Get-EtcdValue '/schema_migration_log/flag' | Should -BeNullOrEmpty
    }
}

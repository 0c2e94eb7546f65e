# Dragonflow's final master on Redis: the same values as queens, under the keys of master's
# redis driver, '{%s.%s}%s' % (table, topic or '', id), where queens wrote '{table.topic}.id'.
# The keys expected here are computed by that rule, not by the module.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/FixtureSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"
    Get-SteppedStoreAssembly | Out-Null   # compiled before any child needs it
    $fixtures = "$PSScriptRoot/../fixtures"

    function Get-MasterKey([string] $Table, [string] $Topic, [string] $Id) { "{$Table.$Topic}$Id" }

    # Keys of a database that are not the module's own lock and journal, in master's layout or in queens'.
    function Get-LayoutCount([int] $Index) {
        $lua = "local m, q = 0, 0 for _, k in ipairs(redis.call('KEYS', '{*')) do " +
            "if string.sub(k, 1, 12) ~= '{df_upgrade_' then if string.find(k, '}.', 1, true) then q = q + 1 else m = m + 1 end end end return {m, q}"
        $m, $q = Invoke-RedisCli $Index EVAL $lua 0
        [pscustomobject]@{ Master = [int]$m; Queens = [int]$q }
    }

    # Every key with its value, in master's layout whatever the layout it is in.
    function Get-AsMasterDump([int] $Index) {
        $dump = Get-NbDump $Index
        @($dump | Where-Object { $_ -notlike '{schema_migration_log.*' } | ForEach-Object { $_ -replace '^(\{[^}]*\})\.', '$1' })
    }
}

Describe 'Invoke-DfMigration -TargetRelease master on Redis' {
    It 'takes a Pike database to master in one run: the Queens values, under the keys master''s driver computes' {
        $db = New-TestRedis 70
        # The fixture's objects, each value as the file holds it, under the keys Pike's driver writes.
        $quote = { param($text) '"' + ($text -replace '\\', '\\' -replace '"', '\"') + '"' }
        Get-Content "$fixtures/pike-nb.jsonl" | Where-Object { $_.Trim() } | ForEach-Object {
            $row = $_ | ConvertFrom-Json -AsHashtable
            $value = $_.Substring($_.IndexOf('"value":') + 8).TrimEnd()
            "SET $(& $quote "{$($row.table).$($row.topic)}.$($row.id)") $(& $quote $value.Substring(0, $value.Length - 1))"
        } | redis-cli -h $RedisHost -p $RedisPort -n 70 | Out-Null
        (Get-LayoutCount 70).Queens | Should -Be 61
        Set-DfMigrationBaseline -Database $db -Release pike -Confirm:$false | Out-Null

        $rows = Invoke-DfMigration -Database $db -TargetRelease master -Confirm:$false
        @($rows.Id) | Should -Contain 'queens-subnet-first-order-model'

        $queens = Read-NbFile "$fixtures/queens-expected.jsonl"
        foreach ($entry in $queens.GetEnumerator()) {
            $table, $topic, $id = $entry.Key.Split('/', 3)
            $stored = Invoke-RedisCli 70 GET (Get-MasterKey $table $topic $id)
            $stored | Should -Not -BeNullOrEmpty -Because "$(Get-MasterKey $table $topic $id) holds $($entry.Key)"
            ConvertTo-CanonicalJson ($stored | ConvertFrom-Json -AsHashtable) | Should -BeExactly $entry.Value
        }
        Invoke-RedisCli 70 GET '{unique_key.}lport' | Should -Be '25'
        $layouts = Get-LayoutCount 70
        $layouts.Queens | Should -Be 0
        (Get-DfMigrationLog -Database $db | Where-Object Kind -eq 'Schema').Release | Should -Be 'master'
        @(Get-DfNbObject -Database $db -Table lport).Count | Should -Be @($queens.Keys | Where-Object { $_ -like 'lport/*' }).Count
    }

    It 'refuses a database whose release is not recorded and whose keys are of both layouts, naming one of each' {
        $db = New-TestRedis 71
        Invoke-RedisCli 71 SET '{lport.t1}.p1' '{"id": "p1"}' | Out-Null
        Invoke-RedisCli 71 SET '{lport.t1}p2' '{"id": "p2"}' | Out-Null
        $err = $null
        try { Set-DfMigrationBaseline -Database $db -Release queens -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'NbKeyLayoutMixed*'
        $err.Exception.Message | Should -BeLike "*{table.topic}.id (e.g. '{lport.t1}.p1')*"
        $err.Exception.Message | Should -BeLike "*{table.topic}id (e.g. '{lport.t1}p2')*"
        Invoke-RedisCli 71 EXISTS '{schema_migration_log.}.baseline' | Should -Be '0'
        Invoke-RedisCli 71 EXISTS '{schema_migration_log.}baseline' | Should -Be '0'
    }

    It 'killed while it rewrites every key leaves keys of both layouts: Resume moves the rest, Undo puts back the queens keys byte for byte' {
        $seed = 72; $db = 73; $twin = 74
        Invoke-RedisCli $seed FLUSHDB | Out-Null
        New-SeedCommands 9900 | redis-cli -h $RedisHost -p $RedisPort -n $seed | Out-Null
        Set-DfMigrationBaseline -Database "redis://$Endpoint/$seed" -Release queens -Confirm:$false | Out-Null
        $original = Get-RedisDump $seed
        $asMaster = Get-AsMasterDump $seed
        Copy-RedisDatabase $seed $db

        $none = New-Item -ItemType Directory (Join-Path $TestDrive 'no-migrations') -Force
        $hold = New-Item -ItemType Directory (Join-Path $TestDrive 'hold-master') -Force
        $child = Start-MigrationProcess "redis://$Endpoint/$db" $none.FullName "$TestDrive/master.jsonl.gz" -HoldFolder $hold.FullName -TargetRelease master
        try {
            # Killed, held, after the first write that moved at least 1,000 keys.
            $reached = { (Invoke-RedisCli $db EXISTS $CommitMarker) -eq '1' -and (Get-LayoutCount $db).Master -ge 1000 }
            Stop-AtWrite $child $hold.FullName $reached | Out-Null
        }
        finally { if (-not $child.HasExited) { Stop-ProcessHard $child } }
        $layouts = Get-LayoutCount $db
        $layouts.Master | Should -BeGreaterThan 0
        $layouts.Queens | Should -BeGreaterThan 0 -Because 'the kill should land part way through the rewrite'
        Copy-RedisDatabase $db $twin

        Resume-DfMigration -Database "redis://$Endpoint/$db" -Confirm:$false | Out-Null
        (Get-LayoutCount $db).Queens | Should -Be 0
        Compare-NbDump (Get-AsMasterDump $db) $asMaster | Should -BeNullOrEmpty

        Undo-DfMigration -Database "redis://$Endpoint/$twin" -Confirm:$false | Out-Null
        Get-RedisDump $twin | Should -BeExactly $original
    }
}

Describe 'Dragonflow master on etcd and in a file' {
    It 'records the release and leaves every key and value as queens wrote them' {
        $file = Join-Path $TestDrive 'nb.jsonl'
        Copy-Item "$fixtures/queens-expected.jsonl" $file
        Set-DfMigrationBaseline -Database $file -Release queens -Confirm:$false | Out-Null
        $before = Read-NbFile $file -Exclude $ModuleTables
        $plan = Invoke-DfMigration -Database $file -TargetRelease master -WhatIf
        $plan.ToRelease | Should -Be 'master'
        Invoke-DfMigration -Database $file -TargetRelease master -Confirm:$false | Out-Null
        Compare-NbObjects (Read-NbFile $file -Exclude $ModuleTables) $before | Should -BeNullOrEmpty

        Invoke-EtcdGateway kv/deleterange @{ key = "`0"; range_end = "`0" } | Out-Null
        $etcd = "etcd://$env:DF_TEST_ETCD"
        Invoke-EtcdGateway kv/put @{ key = '/lswitch/s1'; value = '{"id": "s1", "topic": "t1", "unique_key": 1}' } | Out-Null
        Set-DfMigrationBaseline -Database $etcd -Release queens -Confirm:$false | Out-Null
        Invoke-DfMigration -Database $etcd -TargetRelease master -Confirm:$false | Out-Null
        $keys = @((Invoke-EtcdGateway kv/range @{ key = "`0"; range_end = "`0"; keys_only = $true }).kvs | ForEach-Object {
            [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($_.key)) })
        $keys | Should -Contain '/lswitch/s1'
        Invoke-EtcdGateway kv/range @{ key = '/lswitch/s1' } | ForEach-Object { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($_.kvs[0].value)) } |
            Should -BeExactly '{"id": "s1", "topic": "t1", "unique_key": 1}'
        (Get-DfMigrationLog -Database $etcd | Where-Object Kind -eq 'Schema').Release | Should -Be 'master'
    }
}

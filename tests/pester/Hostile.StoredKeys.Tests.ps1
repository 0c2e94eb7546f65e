# Hostile stored keys and heartbeat rows through the cmdlets: keys that are not UTF-8, Redis
# values of other types under Dragonflow-shaped keys, odd keys, heartbeat rows whose time is not
# a time. Each case checks the error id, that the key is named, that the database is byte for
# byte as it was, that Get-DfNbTable, Get-DfNbObject and Backup-DfNbDatabase agree, and that
# the password of the URI appears nowhere the module wrote.
BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SafetySupport.ps1"
    . "$PSScriptRoot/SecretSupport.ps1"

    $script:Index = 30
    $script:Secret = 'hostile-Pester-7c1d'
    Invoke-RedisCli 0 ACL SETUSER df-hostile-ps on ">$Secret" '~*' '+@all' | Out-Null
    $script:Db = "redis://df-hostile-ps:$Secret@$($script:Endpoint)/$Index"

    # Every key with its type and DUMP payload, escaped: the whole database, whatever the types.
    function Get-RawDump {
        $lua = "local keys = redis.call('KEYS', '*') table.sort(keys) local out = {} " +
            "for _, k in ipairs(keys) do out[#out + 1] = k out[#out + 1] = redis.call('TYPE', k)['ok'] out[#out + 1] = redis.call('DUMP', k) end return out"
        (redis-cli -h $script:RedisHost -p $script:RedisPort -n $Index --no-raw EVAL $lua 0) -join "`n"
    }

    # Runs a cmdlet; its terminating error, with every stream it wrote, checked for the secret.
    function Invoke-Hostile([scriptblock] $Command) {
        $run = Invoke-Captured $Command
        $run.Text | Should -Not -Match ([regex]::Escape($Secret))
        $run.Error
    }

    # The database emptied but for one port, and a folder with a migration that rewrites every object: returns the folder.
    function New-MigratingCase {
        New-TestRedis $Index | Out-Null
        Add-RedisObjects $Index @(New-Port 'p1' 't1')
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder 'bump.ps1' 'bump' '2018-06-01T00:00:00Z' $BumpEveryObject | Out-Null
        $folder
    }

    function Assert-EveryReadRefuses([string] $ErrorId, [string] $ShownKey) {
        $backup = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl.gz"
        foreach ($read in { Get-DfNbTable -Database $Db }, { Get-DfNbObject -Database $Db }, { Backup-DfNbDatabase -Database $Db -Path $backup -Confirm:$false }) {
            $err = Invoke-Hostile $read
            $err.FullyQualifiedErrorId | Should -BeLike "$ErrorId,*"
            $err.TargetObject | Should -Be $ShownKey
            $err.Exception.Message | Should -BeLike "*'$([WildcardPattern]::Escape($ShownKey))'*"
            $err.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        }
        Test-Path $backup | Should -BeFalse
    }
}

Describe 'A stored key the module cannot take as an NB object' {
    BeforeEach {
        New-TestRedis $Index | Out-Null
        Add-RedisObjects $Index @(New-Port 'p1' 't1')
    }

    It 'is refused by every read, naming it: <Name>' -ForEach @(
        @{ Name = 'a key not UTF-8'; Set = 'SET "{lport.t1}.bad\xff" "{}"'; Id = 'NbKeyNotUtf8'; Shown = '{lport.t1}.bad\xFF' }
        @{ Name = 'a table not UTF-8'; Set = 'SET "{lp\xc3\x28ort.}.p9" "{}"'; Id = 'NbKeyNotUtf8'; Shown = '{lp\xC3(ort.}.p9' }
        @{ Name = 'a list'; Set = 'RPUSH {lport.t1}.l1 "{}"'; Id = 'NbValueWrongType'; Shown = '{lport.t1}.l1' }
        @{ Name = 'a hash'; Set = 'HSET {lswitch.}.h1 id h1'; Id = 'NbValueWrongType'; Shown = '{lswitch.}.h1' }
        @{ Name = 'a set'; Set = 'SADD {lport.t1}.s1 x'; Id = 'NbValueWrongType'; Shown = '{lport.t1}.s1' }
        @{ Name = 'a sorted set'; Set = 'ZADD {chassis.}.z1 1 x'; Id = 'NbValueWrongType'; Shown = '{chassis.}.z1' }
    ) {
        $Set | redis-cli -h $script:RedisHost -p $script:RedisPort -n $Index | Out-Null
        $before = Get-RawDump
        Assert-EveryReadRefuses $Id $Shown
        Get-RawDump | Should -Be $before
    }
}

Describe 'Odd but valid Dragonflow keys' {
    It 'count the same in Get-DfNbTable, Get-DfNbObject and a backup: <Key>' -ForEach @(
        @{ Key = '{lport.a.b}.x'; Count = 2 }
        @{ Key = '{lport.t1}.id.with.dots'; Count = 2 }
        @{ Key = '{lport.t1}x'; Count = 2 }      # master's layout, read as an object
        @{ Key = '{.t1}.x'; Count = 1 }          # no table
    ) {
        New-TestRedis $Index | Out-Null
        Add-RedisObjects $Index @(New-Port 'p1' 't1')
        Invoke-RedisCli $Index SET $Key '{"id": "odd"}' | Out-Null
        $before = Get-RawDump
        $backup = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl.gz"
        $plain = "redis://$($script:Endpoint)/$Index"
        (Get-DfNbTable -Database $plain | Where-Object Table -eq 'lport').Count | Should -Be $Count
        @(Get-DfNbObject -Database $plain -Table lport).Count | Should -Be $Count
        (Backup-DfNbDatabase -Database $plain -Path $backup -Confirm:$false).Objects | Should -Be $Count
        Get-RawDump | Should -Be $before
    }
}

Describe 'A heartbeat row whose time is not a time' {
    BeforeEach { $folder = New-MigratingCase }

    It 'stops Invoke-DfMigration with HeartbeatInvalid naming table, object and field, and writes nothing: <Table> <Json>' -ForEach @(
        @{ Table = 'service'; Topic = ''; Json = '"last_seen_up": 1e300' }
        @{ Table = 'service'; Topic = ''; Json = '"last_seen_up": "yesterday"' }
        @{ Table = 'listener'; Topic = 'listener_row-1'; Json = '"timestamp": -1e20' }
        @{ Table = 'publisher'; Topic = ''; Json = '"last_activity_timestamp": "NaN"' }
        @{ Table = 'listener'; Topic = 'listener_row-1'; Json = '"timestamp": 99999999999999999999' }
        @{ Table = 'service'; Topic = ''; Json = '"last_seen_up": -1' }
        @{ Table = 'service'; Topic = ''; Json = '"last_seen_up": 1764000000000' }
        @{ Table = 'service'; Topic = ''; Json = '"last_seen_up": "1764000000"' }
    ) {
        Invoke-RedisCli $Index SET "{$Table.$Topic}.row-1" "{`"id`": `"row-1`", $Json}" | Out-Null
        $field = @{ service = 'last_seen_up'; listener = 'timestamp'; publisher = 'last_activity_timestamp' }[$Table]
        $before = Get-RawDump
        $err = Invoke-Hostile { Invoke-DfMigration -Database $Db -MigrationPath $folder -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'HeartbeatInvalid,*'
        $err.TargetObject | Should -Be "$Table/row-1"
        $err.Exception.Message | Should -BeLike "*$Table row 'row-1'*$field*"
        $err.ErrorDetails.RecommendedAction | Should -BeLike '*-IgnoreLiveControlPlane*'
        Get-RawDump | Should -Be $before
        Get-DfUpgradeLock -Database "redis://$($script:Endpoint)/$Index" | Should -BeNullOrEmpty
        # -WhatIf shows the plan and warns of what the real run refuses.
        $plan = Invoke-DfMigration -Database $Db -MigrationPath $folder -WhatIf -WarningVariable warned 3>$null
        "$($plan.Warnings)" | Should -BeLike "*HeartbeatInvalid*$Table row 'row-1'*"
        "$warned" | Should -BeLike "*HeartbeatInvalid*$Table row 'row-1'*$field*"
        Get-RawDump | Should -Be $before
        # Forced, the migration runs.
        (Invoke-DfMigration -Database $Db -MigrationPath $folder -BackupPath (Join-Path $TestDrive "$([guid]::NewGuid()).jsonl.gz") -Force -Confirm:$false 3>$null).Id | Should -Contain 'bump'
    }
}

Describe 'A stored number the module cannot take' {
    BeforeEach { $folder = New-MigratingCase }

    It 'stops Invoke-DfMigration with MigrationFailed naming the object and why, and writes nothing: <Name>' -ForEach @(
        @{ Name = 'an integer of more than 4,300 digits'; Number = '9' * 4301; Why = '*not valid JSON: an integer of more than 4300 digits, which Python does not read*' }
        @{ Name = 'a number beyond a double''s range'; Number = '1e400'; Why = '*NaN and infinity cannot be stored in an NB object*' }
    ) {
        Invoke-RedisCli $Index SET '{lport.t1}.p9' "{`"id`": `"p9`", `"topic`": `"t1`", `"version`": 1, `"unique_key`": $Number}" | Out-Null
        $before = Get-RawDump
        $err = Invoke-Hostile { Invoke-DfMigration -Database $Db -MigrationPath $folder -Confirm:$false }
        $err.FullyQualifiedErrorId | Should -BeLike 'MigrationFailed,*'
        $err.Exception.Message | Should -BeLike '*failed on lport/p9:*'
        $err.Exception.Message | Should -BeLike $Why
        $err.Exception.Message | Should -BeLike '*Nothing was written to the database.'
        Get-RawDump | Should -Be $before
        Get-DfUpgradeLock -Database "redis://$($script:Endpoint)/$Index" | Should -BeNullOrEmpty
    }
}

BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
}

Describe 'Get-DfMigration' {
    BeforeEach {
        $db = New-TestRedis 20
        Set-ShippedMigrationsApplied $db
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
    }

    It 'lists script migrations in ProposedAt order whatever their file names' {
        New-MigrationFile $folder 'a.ps1' 'third' '2017-03-01T00:00:00Z' '' | Out-Null
        New-MigrationFile $folder 'b.ps1' 'first' '2017-01-01T00:00:00Z' '' | Out-Null
        New-MigrationFile $folder 'c.ps1' 'second' '2017-02-01T00:00:00Z' '' | Out-Null
        $m = Get-DfMigration -Database $db -MigrationPath $folder | Where-Object Source -like "$folder*"
        $m.Id | Should -Be @('first', 'second', 'third')
        $m.Status | Should -Be @('Pending', 'Pending', 'Pending')
        $m[0].ProposedAt | Should -Be ([datetime]::new(2017, 1, 1, 0, 0, 0, [DateTimeKind]::Utc))
    }

    It 'shows applied migrations as Applied, and -Pending only the others' {
        New-MigrationFile $folder '1.ps1' 'one' '2017-01-01T00:00:00Z' '' | Out-Null
        Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false | Out-Null
        New-MigrationFile $folder '2.ps1' 'two' '2017-02-01T00:00:00Z' '' | Out-Null
        $all = Get-DfMigration -Database $db -MigrationPath $folder | Where-Object Source -like "$folder*"
        ($all | Where-Object Id -eq 'one').Status | Should -Be 'Applied'
        ($all | Where-Object Id -eq 'one').AppliedAt | Should -BeGreaterThan ([datetime]::UtcNow.AddMinutes(-5))
        (Get-DfMigration -Database $db -MigrationPath $folder -Pending | Where-Object Source -like "$folder*").Id | Should -Be 'two'
    }

    It 'warns when an applied script has changed since it ran' {
        $file = New-MigrationFile $folder '1.ps1' 'one' '2017-01-01T00:00:00Z' ''
        Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false | Out-Null
        Add-Content $file '# edited afterwards'
        $m = Get-DfMigration -Database $db -MigrationPath $folder -WarningVariable warnings 3>$null | Where-Object Id -eq 'one'
        $m.ChecksumChanged | Should -BeTrue
        $warnings | Should -Match "'one'.*changed after it ran"
    }

    Context 'a malformed migration file' {
        It 'is an error naming the file when <Case>' -ForEach @(
            @{ Case = 'it has no Id'; Id = ''; Date = '2017-01-01T00:00:00Z'; Apply = ''; Why = 'no Id' }
            @{ Case = 'its date is not ISO 8601 UTC'; Id = 'x'; Date = '01/02/2017'; Apply = ''; Why = 'not an ISO 8601 UTC time' }
        ) {
            $file = New-MigrationFile $folder 'bad.ps1' $Id $Date $Apply
            { Get-DfMigration -Database $db -MigrationPath $folder } | Should -Throw -ExpectedMessage "*$file*$Why*" -ErrorId 'MigrationMalformed,*'
        }

        It 'is an error naming the file when Apply is missing' {
            New-Item -ItemType Directory $folder | Out-Null
            "@{ Id = 'x'; Release = 'queens'; Description = 'd'; ProposedAt = '2017-01-01T00:00:00Z' }" | Set-Content "$folder/noapply.ps1"
            { Get-DfMigration -Database $db -MigrationPath $folder } | Should -Throw -ExpectedMessage "*noapply.ps1*no Apply script block*" -ErrorId 'MigrationMalformed,*'
        }

        It 'is an error naming both files when two share an Id' {
            New-MigrationFile $folder 'a.ps1' 'same' '2017-01-01T00:00:00Z' '' | Out-Null
            New-MigrationFile $folder 'b.ps1' 'same' '2017-02-01T00:00:00Z' '' | Out-Null
            { Get-DfMigration -Database $db -MigrationPath $folder } | Should -Throw -ExpectedMessage "*b.ps1*'same'*a.ps1*" -ErrorId 'MigrationMalformed,*'
        }

        It 'is an error naming the file when it does not parse' {
            New-Item -ItemType Directory $folder | Out-Null
            "@{ Id = 'x'; Apply = { " | Set-Content "$folder/broken.ps1"
            { Get-DfMigration -Database $db -MigrationPath $folder } | Should -Throw -ExpectedMessage "*broken.ps1*" -ErrorId 'MigrationMalformed,*'
        }

        It 'writes nothing when Invoke-DfMigration meets it' {
            Add-RedisObjects 20 @(New-Port 'p1' 't1')
            New-MigrationFile $folder 'good.ps1' 'good' '2017-01-01T00:00:00Z' $FlagComputePorts | Out-Null
            "@{ Id = 'bad'; Release = 'queens'; Description = 'd'; ProposedAt = 'never'; Apply = {} }" | Set-Content "$folder/bad.ps1"
            $before = Get-RedisDump 20
            { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } | Should -Throw -ExpectedMessage '*bad.ps1*' -ErrorId 'MigrationMalformed,*'
            Get-RedisDump 20 | Should -Be $before
        }
    }
}

Describe 'Invoke-DfMigration' {
    BeforeEach {
        $db = New-TestRedis 21
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        Add-RedisObjects 21 @(
            New-Port 'p1' 't1'
            New-Port 'p2' 't1' 'network:dhcp'
            New-Port 'p3' 't2'
            @{ table = 'lswitch'; topic = 't1'; id = 's1'; value = @{ id = 's1'; topic = 't1' } }
        )
        Set-ShippedMigrationsApplied $db
    }

    It 'applies a script migration to every object and outputs one row per migration applied' {
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        $out = Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false
        $out.Id | Should -Be 'flag'
        $out.Kind | Should -Be 'Migration'
        $p1 = Get-DfNbObject -Database $db -Table lport -Id p1
        $p1.flag | Should -BeTrue
        (Get-DfNbObject -Database $db -Table lport -Id p2).PSObject.Properties.Name | Should -Not -Contain 'flag'
    }

    It 'writes only the objects that changed, and the log' {
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        Reset-RedisStats
        Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false | Out-Null
        # p1 and p3 changed; p2 was rewritten unchanged; plus one log row.
        Get-RedisWrites 21 | Should -Be 3
    }

    It 'writes nothing on a second run' {
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false | Out-Null
        $before = Get-RedisDump 21
        Reset-RedisStats
        $out = Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false
        $out | Should -BeNullOrEmpty
        Get-RedisWrites 21 | Should -Be 0
        Get-RedisDump 21 | Should -Be $before
    }

    It 'with -WhatIf writes nothing and shows the per-table counts' {
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        New-MigrationFile $folder '2.ps1' 'drop-switch' '2017-09-02T00:00:00Z' "`$NbApi.Delete('lswitch', 's1'); `$NbApi.Create('lsubnet', @{ id = 'sn1'; topic = 't1' })" | Out-Null
        $before = Get-RedisDump 21
        $plan = Invoke-DfMigration -Database $db -MigrationPath $folder -WhatIf
        Get-RedisDump 21 | Should -Be $before
        $plan.Migrations | Should -Be @('flag', 'drop-switch')
        ($plan.Changes | Where-Object Table -eq 'lport').Updates | Should -Be 2
        ($plan.Changes | Where-Object Table -eq 'lswitch').Deletes | Should -Be 1
        ($plan.Changes | Where-Object Table -eq 'lsubnet').Creates | Should -Be 1
        ($plan.Changes | Where-Object Table -eq 'schema_migration_log').Creates | Should -Be 2
    }

    It 'leaves Redis byte-for-byte as it was when a migration throws, naming it and the object' {
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        New-MigrationFile $folder '2.ps1' 'boom' '2017-09-02T00:00:00Z' "foreach (`$p in `$NbApi.GetAll('lport')) { if (`$p.id -eq 'p3') { throw 'cannot convert' } }" | Out-Null
        $before = Get-RedisDump 21
        $err = $null
        try { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'MigrationFailed*'
        $err.Exception.Message | Should -BeLike "*'boom'*lport/p3*cannot convert*"
        Get-RedisDump 21 | Should -Be $before
        (Get-DfMigration -Database $db -MigrationPath $folder -Pending).Id | Should -Contain 'flag'
    }

    It 'treats Write-Error in a migration as a failure' {
        New-MigrationFile $folder '1.ps1' 'writes-error' '2017-09-01T00:00:00Z' "Write-Error 'bad data'" | Out-Null
        $before = Get-RedisDump 21
        { Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false } | Should -Throw -ExpectedMessage "*writes-error*bad data*" -ErrorId 'MigrationFailed,*'
        Get-RedisDump 21 | Should -Be $before
    }

    It 'takes Get-DfMigration -Pending from the pipeline' {
        New-MigrationFile $folder '1.ps1' 'one' '2017-09-01T00:00:00Z' '' | Out-Null
        New-MigrationFile $folder '2.ps1' 'two' '2017-09-02T00:00:00Z' '' | Out-Null
        $out = Get-DfMigration -Database $db -MigrationPath $folder -Pending | Where-Object Source -like "$folder*" |
            Select-Object -First 1 | Invoke-DfMigration -Confirm:$false
        $out.Id | Should -Be 'one'
        (Get-DfMigration -Database $db -MigrationPath $folder -Pending | Where-Object Source -like "$folder*").Id | Should -Be 'two'
    }

    It 'refuses a piped selection that skips an earlier pending migration' {
        New-MigrationFile $folder '1.ps1' 'one' '2017-09-01T00:00:00Z' '' | Out-Null
        New-MigrationFile $folder '2.ps1' 'two' '2017-09-02T00:00:00Z' '' | Out-Null
        $before = Get-RedisDump 21
        { Get-DfMigration -Database $db -MigrationPath $folder -Pending | Where-Object Id -eq 'two' | Invoke-DfMigration -Confirm:$false } |
            Should -Throw -ExpectedMessage "*skips pending migration*'one'*" -ErrorId 'MigrationSelectionInvalid,*'
        Get-RedisDump 21 | Should -Be $before
    }

    It 'stops at -TargetRelease' {
        New-MigrationFile $folder '1.ps1' 'r1' '2017-09-01T00:00:00Z' '' 'release-a' | Out-Null
        New-MigrationFile $folder '2.ps1' 'r2' '2017-09-02T00:00:00Z' '' 'release-b' | Out-Null
        (Invoke-DfMigration -Database $db -MigrationPath $folder -TargetRelease release-a -Confirm:$false).Id | Should -Be 'r1'
    }

    It 'is a clear error when Redis is unreachable' {
        { Invoke-DfMigration -Database 'redis://127.0.0.1:1/0' -Confirm:$false } | Should -Throw -ExpectedMessage '*127.0.0.1:1*' -ErrorId 'NbDatabaseUnavailable,*'
    }
}

Describe 'The embedded file store' {
    BeforeEach {
        $path = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl"
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        @(
            '{"table":"lport","topic":"t1","id":"p1","value":{"id":"p1","topic":"t1","device_owner":"compute:nova"}}'
            '{"table":"lport","topic":"t1","id":"p2","value":{"id":"p2","topic":"t1","device_owner":"network:dhcp"}}'
        ) | Set-Content $path
        Set-ShippedMigrationsApplied $path
    }

    It 'is migrated in place' {
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        Invoke-DfMigration -Database $path -MigrationPath $folder -Confirm:$false | Out-Null
        (Get-DfNbObject -Database $path -Table lport -Id p1).flag | Should -BeTrue
        (Get-DfMigrationLog -Database $path | Where-Object Kind -eq Migration).Id | Should -Be 'flag'
    }

    It 'is left byte-for-byte as it was when a migration throws' {
        New-MigrationFile $folder '1.ps1' 'boom' '2017-09-01T00:00:00Z' "throw 'no'" | Out-Null
        $before = (Get-FileHash $path).Hash
        $err = $null
        try { Invoke-DfMigration -Database $path -MigrationPath $folder -Confirm:$false } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'MigrationFailed,*'
        $err.Exception.Message | Should -BeLike "*'boom'*no*"
        (Get-FileHash $path).Hash | Should -Be $before
    }

    It 'reports a malformed line with file and line number and writes nothing' {
        Add-Content $path '{"table":"lport","topic":"t1","id":"p3"}'
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        $before = (Get-FileHash $path).Hash
        { Invoke-DfMigration -Database $path -MigrationPath $folder -Confirm:$false } | Should -Throw -ExpectedMessage "*line 7*'value' is missing*" -ErrorId 'NbFileInvalid,*'
        (Get-FileHash $path).Hash | Should -Be $before
    }
}

Describe 'Set-DfMigrationBaseline' {
    It 'marks migrations up to the release applied without running them' {
        $db = New-TestRedis 22
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder '1.ps1' 'old' '2017-01-01T00:00:00Z' "throw 'must not run'" 'release-a' | Out-Null
        New-MigrationFile $folder '2.ps1' 'new' '2017-09-01T00:00:00Z' '' 'release-b' | Out-Null
        $rows = Set-DfMigrationBaseline -Database $db -Release release-a -MigrationPath $folder -Confirm:$false
        $rows.Kind | Should -Contain 'Baseline'
        ($rows | Where-Object Id -eq 'old').Kind | Should -Be 'Baselined'
        (Get-DfMigration -Database $db -MigrationPath $folder -Pending | Where-Object Source -like "$folder*").Id | Should -Be 'new'
        (Invoke-DfMigration -Database $db -MigrationPath $folder -Confirm:$false).Id | Should -Be 'new'
    }

    It 'refuses an unknown release' {
        $db = New-TestRedis 22
        { Set-DfMigrationBaseline -Database $db -Release nosuch -Confirm:$false } | Should -Throw -ExpectedMessage "*Unknown release 'nosuch'*" -ErrorId 'ReleaseUnknown,*'
    }
}

Describe 'New-DfMigration' {
    It 'writes a skeleton that loads as a pending migration and runs' {
        $db = New-TestRedis 23
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        $file = New-DfMigration -Path $folder -Id 'my-change' -Release 'queens' -Description 'Do a thing' -Handles 'lswitch.subnets:FieldRemoved'
        $file.Name | Should -Match '^\d{14}_my-change\.ps1$'
        $m = Get-DfMigration -Database $db -MigrationPath $folder -Pending | Where-Object Id -eq 'my-change'
        $m.Description | Should -Be 'Do a thing'
        $m.Handles | Should -Be 'lswitch.subnets:FieldRemoved'
        $m.ProposedAt | Should -BeGreaterThan ([datetime]::UtcNow.AddMinutes(-5))
    }
}

Describe 'Get-DfNbObject and Get-DfNbTable' {
    BeforeAll {
        $db = New-TestRedis 24
        Add-RedisObjects 24 @(New-Port 'p1' 't1'; New-Port 'p2' 't2'; @{ table = 'chassis'; topic = ''; id = 'c1'; value = @{ id = 'c1'; ip = '10.0.0.1' } })
    }

    It 'lists tables with their counts' {
        $t = Get-DfNbTable -Database $db
        ($t | Where-Object Table -eq 'lport').Count | Should -Be 2
        ($t | Where-Object Table -eq 'chassis').Count | Should -Be 1
    }

    It 'returns objects as PowerShell objects with their fields' {
        $o = Get-DfNbObject -Database $db -Table lport -Id p2
        $o.topic | Should -Be 't2'
        $o.version | Should -Be 1
        $o.NbTable | Should -Be 'lport'
    }

    It 'is a non-terminating error for an id that is not there' {
        Get-DfNbObject -Database $db -Table lport -Id nosuch -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'NbObjectNotFound*'
    }
}

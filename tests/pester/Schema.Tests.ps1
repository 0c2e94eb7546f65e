BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/FixtureSupport.ps1"
    $fixture = "$PSScriptRoot/../fixtures/pike-nb.jsonl"
    # What Dragonflow 5.0.0 itself stores for the sample's resources, written apart from the module.
    $queensExpected = Read-NbFile "$PSScriptRoot/../fixtures/queens-expected.jsonl"
}

Describe 'Get-DfSchema' {
    It 'lists a release''s fields with their types' {
        $f = Get-DfSchema -Release queens -Table lsubnet | Where-Object Field -eq 'lswitch'
        $f.Type | Should -Be 'reference to lswitch'
        $f.Required | Should -BeTrue
        (Get-DfSchema -Release pike -Table lsubnet) | Should -BeNullOrEmpty
    }

    It 'reads the release a database is recorded at' {
        $db = Join-Path $TestDrive 'nb.jsonl'
        Copy-Item $fixture $db
        Set-DfMigrationBaseline -Database $db -Release pike -Confirm:$false | Out-Null
        (Get-DfSchema -Database $db -Table lswitch).Release | Select-Object -Unique | Should -Be 'pike'
    }
}

Describe 'Compare-DfSchema' {
    It 'classifies each Pike to Queens change' {
        $changes = Compare-DfSchema -Reference pike -Difference queens
        ($changes | Where-Object Key -eq 'lswitch.subnets:FieldRemoved').Automatic | Should -BeFalse
        ($changes | Where-Object Key -eq 'lsubnet:TableAdded').Automatic | Should -BeTrue
        ($changes | Where-Object { -not $_.Automatic }).Key | Sort-Object | Should -Be @('floatingip.name:FieldRemoved', 'lport.subnets:TypeChanged', 'lswitch.subnets:FieldRemoved')
    }
}

Describe 'Test-DfSchemaChange' {
    BeforeAll {
        $base = Join-Path $TestDrive 'base.json'
        $current = Join-Path $TestDrive 'current.json'
        '{"release":"a","tables":{"lport":{"fields":{"id":{"type":"string","required":true},"flag":{"type":"bool"}}}}}' | Set-Content $base
        '{"release":"b","tables":{"lport":{"fields":{"id":{"type":"string","required":true}}}}}' | Set-Content $current
    }

    It 'is true for the shipped Pike to Queens migrations' {
        Test-DfSchemaChange -Baseline pike -Current queens | Should -BeTrue
    }

    It 'is false with one error per change no migration handles' {
        $result = Test-DfSchemaChange -Baseline $base -Current $current -ErrorVariable errs -ErrorAction SilentlyContinue
        $result | Should -BeFalse
        $errs.Count | Should -Be 1
        $errs[0].Exception.Message | Should -BeLike 'lport.flag:FieldRemoved*'
    }

    It 'is true once a migration names the change in Handles' {
        $folder = Join-Path $TestDrive 'migrations'
        New-DfMigration -Path $folder -Id drop-flag -Release b -Description 'Drop the flag' -Handles 'lport.flag:FieldRemoved' | Out-Null
        Test-DfSchemaChange -Baseline $base -Current $current -MigrationPath $folder | Should -BeTrue
    }
}

Describe 'One error id per condition, whichever cmdlet meets it' {
    It 'names a release without a schema SchemaNotFound, with what to do, in Get-DfSchema as in Compare-DfSchema' {
        $e = { Get-DfSchema -Release nosuch } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'SchemaNotFound,*'
        $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $e.TargetObject | Should -Be 'nosuch'
        $e.ErrorDetails.RecommendedAction | Should -BeLike '*release the module has a schema for*'
        $e = { Compare-DfSchema -Reference pike -Difference nosuch } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'SchemaNotFound,*'
    }

    It 'names a malformed manifest SchemaMalformed' {
        $bad = Join-Path $TestDrive 'bad.json'
        '{"release":"x"' | Set-Content $bad
        $e = { Compare-DfSchema -Reference pike -Difference $bad } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'SchemaMalformed,*'
    }

    It 'names a malformed migration MigrationMalformed in Test-DfSchemaChange as in Get-DfMigration' {
        $folder = Join-Path $TestDrive 'broken'
        New-Item -ItemType Directory $folder | Out-Null
        Set-Content (Join-Path $folder 'broken.ps1') '@{ Id = ''x'' }'
        $e = { Test-DfSchemaChange -Baseline pike -Current queens -MigrationPath $folder } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'MigrationMalformed,*'
        $e.TargetObject | Should -BeLike '*broken.ps1'
        $e.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        $db = Join-Path $TestDrive 'nb.jsonl'
        Copy-Item $fixture $db
        $e = { Get-DfMigration -Database $db -MigrationPath $folder } | Should -Throw -PassThru
        $e.FullyQualifiedErrorId | Should -BeLike 'MigrationMalformed,*'
    }
}

Describe 'The Pike to Queens upgrade through the cmdlets' {
    BeforeEach {
        $db = Join-Path $TestDrive "$([guid]::NewGuid()).jsonl"
        Copy-Item $fixture $db
        Set-DfMigrationBaseline -Database $db -Release pike -Confirm:$false | Out-Null
    }

    It 'names the networks with several DHCP ports in the -WhatIf plan and writes nothing' {
        $before = (Get-FileHash $db).Hash
        $plan = Invoke-DfMigration -Database $db -TargetRelease queens -WhatIf -WarningVariable w 3>$null
        $plan.Warnings.Count | Should -Be 2
        ($w -join "`n") | Should -Match 'alpha-net'
        $plan.FromRelease | Should -Be 'pike'
        $plan.ToRelease | Should -Be 'queens'
        (Get-FileHash $db).Hash | Should -Be $before
    }

    It 'applies a piped selection of the first pending migration without upgrading the schema, and the rest to exactly the Queens database' {
        $out = Get-DfMigration -Database $db -Pending | Select-Object -First 1 | Invoke-DfMigration -Confirm:$false 3>$null
        $out.Id | Should -Be 'queens-lport-switch-topic'
        (Get-DfMigrationLog -Database $db | Where-Object Kind -eq Schema) | Should -BeNullOrEmpty
        $rest = Invoke-DfMigration -Database $db -Confirm:$false 3>$null
        $rest.Kind | Should -Be @('Migration', 'Migration', 'Migration', 'Schema')
        ($rest | Where-Object Kind -eq Schema).Release | Should -Be 'queens'   # no -TargetRelease: queens, the last tagged release, never master
        Compare-NbObjects (Read-NbFile $db -Exclude $ModuleTables) $queensExpected | Should -BeNullOrEmpty
    }

    It 'upgrades the sample in one run to exactly what Dragonflow 5.0.0 stores' {
        Invoke-DfMigration -Database $db -TargetRelease queens -Confirm:$false 3>$null | Out-Null
        Compare-NbObjects (Read-NbFile $db -Exclude $ModuleTables) $queensExpected | Should -BeNullOrEmpty
    }

    It 'refuses an object that does not fit Queens, naming it, and writes nothing' {
        $lines = Get-Content $db
        $i = [array]::FindIndex($lines, [Predicate[string]] { param($l) $l -like '*"table":"floatingip"*' })
        $lines[$i] = $lines[$i] -replace '"lrouter":"[^"]*"', '"lrouter":"gone"'
        $lines | Set-Content $db
        $before = (Get-FileHash $db).Hash
        { Invoke-DfMigration -Database $db -TargetRelease queens -Confirm:$false 3>$null } | Should -Throw '*floatingip/*lrouter*refers to lrouter/gone*'
        (Get-FileHash $db).Hash | Should -Be $before
    }
}

Describe 'The demo' {
    It 'upgrades the sample to Queens' {
        $work = Join-Path $TestDrive 'demo'
        & "$PSScriptRoot/../../module/examples/Demo.ps1" -Sample $fixture -WorkDir $work 6>$null 3>$null | Out-Null
        (Get-DfSchema -Database "$work/nb.jsonl" -Table lsubnet).Release | Select-Object -Unique | Should -Be 'queens'
        (Get-DfNbTable -Database "$work/nb.jsonl" | Where-Object Table -eq lsubnet).Count | Should -Be 10
        Compare-NbObjects (Read-NbFile "$work/nb.jsonl" -Exclude $ModuleTables) $queensExpected | Should -BeNullOrEmpty
    }
}
